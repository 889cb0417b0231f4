"""Every hostile policy is refused by validate, evaluate and run alike: exit 2, a located message, no secret
printed, within 2 s and 200 MiB (issue 7). Each runs in a child process that is killed if it hangs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.policies import (
    CASES,
    COMPLIANT,
    MEMORY_LIMIT_MIB,
    SECRETS,
    TIME_LIMIT,
    Case,
    Outcome,
    run_exaudit,
)

COMMANDS = {
    "validate": [],
    "evaluate": ["--snapshot", str(COMPLIANT)],
    # Policies are read before any connection; were one accepted, the run would meet a closed port on loopback.
    "run": ["--server", "127.0.0.1", "--port", "9", "--scheme", "http", "--audit-user", "a", "--timeout", "2"],
}


def _check(case: Case, command: str, tmp_path: Path) -> Outcome:
    folder = tmp_path / "policies"
    folder.mkdir()
    policy, located = case.build(folder)
    outcome = run_exaudit([command, str(policy), *COMMANDS[command]], cwd=tmp_path)
    assert outcome.code is not None, f"{case.id}: still running after the kill timeout (a hang)"
    output = outcome.stdout + outcome.stderr
    for secret in SECRETS.values():
        assert secret not in output, f"{case.id}: a planted secret reached the output"
    assert outcome.code == 2, output
    assert outcome.stderr.startswith("exaudit: invalid policy: "), output
    assert case.message in outcome.stderr, output
    if located is not None:
        assert f"{folder / located}: " in outcome.stderr, output
    assert outcome.stderr.count("\n") == 1, output  # one line, nothing echoed from the file
    assert outcome.seconds < TIME_LIMIT, f"{case.id}: {outcome.seconds:.2f} s"
    assert outcome.peak_mib < MEMORY_LIMIT_MIB, f"{case.id}: {outcome.peak_mib:.0f} MiB"
    return outcome


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_refuses(case: Case, tmp_path: Path) -> None:
    _check(case, "validate", tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_evaluate_refuses(case: Case, tmp_path: Path) -> None:
    _check(case, "evaluate", tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_run_refuses(case: Case, tmp_path: Path) -> None:
    _check(case, "run", tmp_path)
