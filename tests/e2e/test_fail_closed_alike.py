"""Every fault mode gives the same exit code through `run`, `collect` and `evaluate` (one code path decides it).

The single-cmdlet cases are the ones that used to pass: one malformed PowerShell reply for Get-ExchangeServer,
Get-ThrottlingPolicy or Get-ManagementRole left ``ok: false`` in the snapshot while every check still passed, and
`run` exited 0 where `collect` exited 3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audit.cli import main
from audit.lab.server import LabServer
from audit.run import UNKNOWN_POLICY_CONCURRENCY

from .conftest import POLICY, run_cli
from .test_faults import EWS_FAULTS, PSRP_FAULTS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings(r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"),
]


def _malformed_reply_to(nth_request: int) -> dict[str, Any]:
    # Collecting one cmdlet at a time (--psrp-pools 1, SEQUENTIAL), the lab answers the PowerShell requests of one
    # run in a fixed order (session set-up, then one invoke and one receive per cmdlet): request 4 is
    # Get-ExchangeServer's, 6 Get-ThrottlingPolicy's, 8 Get-ManagementRole's.
    return {"rules": [{"route": "powershell", "kind": "malformed", "count": 1, "after": nth_request}]}


SINGLE_CMDLET = {
    "Get-ExchangeServer": _malformed_reply_to(4),
    "Get-ThrottlingPolicy": _malformed_reply_to(6),
    "Get-ManagementRole": _malformed_reply_to(8),
}
SEQUENTIAL = ("--psrp-pools", "1")
FAULTS: dict[str, dict[str, Any]] = {
    **{f"ews {name}": spec for name, spec in EWS_FAULTS.items()},
    **{f"powershell {name}": spec for name, spec in PSRP_FAULTS.items()},
    **{f"malformed {name} reply": spec for name, spec in SINGLE_CMDLET.items()},
}


def _three_commands(lab: LabServer, spec: dict[str, Any] | None, tmp: Path, *extra: str) -> tuple[int, int, int, str]:
    lab.reset()
    if spec is not None:
        lab.faults.apply(spec)
    run = run_cli(lab, tmp / "run", "--timeout", "2", "--deadline", "3", *extra)
    lab.reset()
    if spec is not None:
        lab.faults.apply(spec)
    collect = run_cli(lab, tmp / "collect", "--timeout", "2", "--deadline", "3", *extra, command="collect")
    lab.reset()
    snapshot = tmp / "collect" / "snapshot.json"
    evaluate = main(["evaluate", str(POLICY), "--snapshot", str(snapshot), "-q"])
    return run.code, collect.code, evaluate, run.stderr


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_every_fault_mode_exits_3_in_run_collect_and_evaluate(lab: LabServer, fault: str, tmp_path: Path) -> None:
    extra = SEQUENTIAL if fault.startswith("malformed ") else ()
    run, collect, evaluate, stderr = _three_commands(lab, FAULTS[fault], tmp_path, *extra)
    assert (run, collect, evaluate) == (3, 3, 3), stderr


def test_a_clean_collection_exits_0_in_all_three(lab: LabServer, tmp_path: Path) -> None:
    assert _three_commands(lab, None, tmp_path)[:3] == (0, 0, 0)


def test_unknown_throttling_policy_probes_at_the_conservative_budget(lab: LabServer, tmp_path: Path) -> None:
    lab.reset()
    lab.faults.apply(SINGLE_CMDLET["Get-ThrottlingPolicy"])
    try:
        run = run_cli(lab, tmp_path, "--timeout", "2", "--deadline", "10", "--concurrency", "8", *SEQUENTIAL)
    finally:
        lab.reset()
    probe_run = json.loads((tmp_path / "snapshot.json").read_text(encoding="utf-8"))["probe_run"]
    assert probe_run["concurrency"] == UNKNOWN_POLICY_CONCURRENCY
    assert "Get-ThrottlingPolicy failed" in probe_run["concurrency_note"]
    assert f"probing at most {UNKNOWN_POLICY_CONCURRENCY} mailboxes at a time instead of 8" in run.stderr
    assert run.code == 3
    exa050 = next(f for f in run.report()["findings"] if f["checkId"] == "EXA050")
    assert any("probe concurrency: Get-ThrottlingPolicy failed" in line for line in exa050["evidence"])
