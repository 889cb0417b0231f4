"""Every fault the lab can inject ends in ERROR and exit code 3 within the deadline: never PASS, never a hang."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit.lab.server import LabServer

from .conftest import assert_no_secret, run_cli

pytestmark = [
    pytest.mark.e2e,
    # pypsrp's NTLM auth handler leaves the socket of a refused handshake (HTTP 401 after the token exchange) to
    # the garbage collector; exaudit closes every session it holds, but that one is inside the library.
    pytest.mark.filterwarnings(r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"),
]

EWS_FAULTS: dict[str, dict[str, Any]] = {
    "latency beyond the timeout": {"latency_ms": {"ews": 4000}},
    "throttling past the deadline": {"throttling": {"always": True, "backoff_ms": 700}},
    "dropped connection": {"rules": [{"route": "ews", "kind": "drop", "count": None}]},
    "401": {"rules": [{"route": "ews", "kind": "status", "status": 401, "count": None}]},
    "500": {"rules": [{"route": "ews", "kind": "status", "status": 500, "count": None}]},
    "503": {"rules": [{"route": "ews", "kind": "status", "status": 503, "count": None}]},
    "a response that never ends": {"rules": [{"route": "ews", "kind": "hang", "count": None}]},
    "malformed XML": {"rules": [{"route": "ews", "kind": "malformed", "count": None}]},
}

PSRP_FAULTS: dict[str, dict[str, Any]] = {
    "latency beyond the timeout": {"latency_ms": {"powershell": 4000}},
    "dropped connection": {"rules": [{"route": "powershell", "kind": "drop", "count": None, "after": 3}]},
    "401": {"rules": [{"route": "powershell", "kind": "status", "status": 401, "count": None}]},
    "500": {"rules": [{"route": "powershell", "kind": "status", "status": 500, "count": None, "after": 3}]},
    "503": {"rules": [{"route": "powershell", "kind": "status", "status": 503, "count": None}]},
    "a response that never ends": {"rules": [{"route": "powershell", "kind": "hang", "count": None, "after": 3}]},
    "malformed XML": {"rules": [{"route": "powershell", "kind": "malformed", "count": None, "after": 3}]},
}


@pytest.fixture
def faulty(lab: LabServer) -> Iterator[LabServer]:
    lab.reset()
    yield lab
    lab.reset()


@pytest.mark.parametrize("fault", list(EWS_FAULTS), ids=list(EWS_FAULTS))
def test_ews_fault_ends_in_error(faulty: LabServer, fault: str, tmp_path: Path) -> None:
    faulty.faults.apply(EWS_FAULTS[fault])
    run = run_cli(faulty, tmp_path, "--timeout", "2", "--deadline", "3")
    statuses = run.statuses()
    assert run.code == 3, run.stderr
    assert statuses["EXA050"] == "ERROR"
    assert statuses["EXA051"] == "ERROR"
    creds = faulty.credentials
    assert_no_secret(run, [creds.auditor_password, creds.service_password])


@pytest.mark.parametrize("fault", list(PSRP_FAULTS), ids=list(PSRP_FAULTS))
def test_powershell_fault_ends_in_error(faulty: LabServer, fault: str, tmp_path: Path) -> None:
    faulty.faults.apply(PSRP_FAULTS[fault])
    run = run_cli(faulty, tmp_path, "--timeout", "2", "--deadline", "3")
    statuses = run.statuses()
    assert run.code == 3, run.stderr
    assert "ERROR" in statuses.values()
    # What could not be read is never reported as compliant: every check needing Exchange state is not PASS.
    assert statuses["EXA010"] != "PASS"
    creds = faulty.credentials
    assert_no_secret(run, [creds.auditor_password, creds.service_password])


def test_wrong_auditing_password_is_a_clear_error(faulty: LabServer, tmp_path: Path) -> None:
    creds = faulty.credentials
    user = creds.auditor_username.split("@")[0]
    faulty.set_password(user, "changed-on-the-server-1!")
    try:
        run = run_cli(faulty, tmp_path, audit_password=creds.auditor_password)
    finally:
        faulty.set_password(user, creds.auditor_password)
    snapshot = (tmp_path / "snapshot.json").read_text(encoding="utf-8")
    assert run.code == 3
    assert "authentication to" in snapshot
    assert "check the auditing account's user name and password" in snapshot
    assert_no_secret(run, [creds.auditor_password, "changed-on-the-server-1!", creds.service_password])
