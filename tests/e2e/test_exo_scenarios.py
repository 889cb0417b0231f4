"""Every Exchange Online lab scenario, audited with `exaudit run policies/callpro-exo.yaml` over real msal and HTTPS:
exactly its listed checks fail, with its exit code, and no secret or token shows anywhere."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from audit.lab.server import LabServer, list_scenarios, scenario_expectations

from .exo_support import assert_nothing_leaked, recording_tokens, run_exo, secrets_of

pytestmark = pytest.mark.e2e

EXO_SCENARIOS = list_scenarios("exchange-online")


@pytest.mark.parametrize("scenario", EXO_SCENARIOS)
def test_exo_scenario_gives_exactly_its_failing_checks(
    scenario: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect = scenario_expectations(scenario)
    with LabServer(scenario) as lab, recording_tokens(monkeypatch) as tokens:
        run = run_exo(lab, tmp_path)
        secrets = secrets_of(lab)
    assert run.not_passing() == set(expect["failing"]), run.stderr
    assert run.code == expect["exit_code"], run.stderr
    assert tokens, "the run acquired no token"
    assert_nothing_leaked(run, [*secrets, *tokens])
    assert "Traceback" not in run.stderr


def test_exo_compliant_collects_with_a_fixed_number_of_calls(tmp_path: Path) -> None:
    with LabServer("exo-compliant") as lab:
        run = run_exo(lab, tmp_path, command="collect")
        stats = lab.stats()
    assert run.code == 0, run.stderr
    invoke = stats["invoke_command"]
    # One InvokeCommand per planned cmdlet (a 20-recipient tenant fits one page), then
    # Test-ServicePrincipalAuthorization once without and once per probed mailbox (6 staff + 2 canaries).
    assert invoke.get("Test-ServicePrincipalAuthorization") == 1 + 8
    assert sum(v for k, v in invoke.items() if k != "Test-ServicePrincipalAuthorization") == 12


def test_exo_demo_runs_in_under_15_seconds(tmp_path: Path) -> None:
    from audit.cli import main

    start = time.monotonic()
    code = main(["demo", "--scenario", "exo-compliant", "--out", str(tmp_path / "demo"), "-q"])
    elapsed = time.monotonic() - start
    assert code == scenario_expectations("exo-compliant")["exit_code"]
    assert elapsed < 15.0
    assert (tmp_path / "demo" / "snapshot.json").is_file()
