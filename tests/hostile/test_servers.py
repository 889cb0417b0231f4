"""`exaudit run` against a hostile server: every case ends in exit 3 with its message, in time, in bounded memory.

One protocol at a time is hostile (PowerShell remoting via --server, or EWS via --ews-url); the other talks to the
embedded lab, so that each case shows what that protocol's client does on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.lab.server import LabServer
from tests.e2e.secret_scan import files_under, find_secrets, secret_forms

from .servers import CASES, MEMORY_LIMIT_MIB, RUN_BOUND, Case, LabAccess, play

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def lab() -> Iterator[LabAccess]:
    with LabServer("compliant", tls=True, basic=True) as server:
        creds = server.credentials
        assert server.ca_cert_path is not None
        yield LabAccess(
            server.port,
            creds.auditor_username,
            creds.auditor_password,
            creds.service_username,
            creds.service_password,
            server.ca_cert_path,
        )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_server_case(lab: LabAccess, case: Case, tmp_path: Path) -> None:
    outcome = play(case, lab, tmp_path)
    assert outcome.code == 3, outcome.stderr
    assert outcome.message in outcome.stderr, outcome.stderr
    assert outcome.seconds < RUN_BOUND, f"{outcome.seconds:.1f} s"
    assert outcome.peak_rss_mib < MEMORY_LIMIT_MIB, f"{outcome.peak_rss_mib:.0f} MiB"
    assert "Traceback" not in outcome.stderr
    # Server words reach the terminal escaped: no ESC or BEL from a fault text can drive the runner's terminal.
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in outcome.stderr
        assert control not in outcome.stdout
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    for text in case.never:
        assert text not in outcome.stderr
        assert text not in outcome.stdout
        for path in files:
            assert text.encode() not in path.read_bytes(), f"{text!r} in {path}"
    forms = secret_forms([(lab.auditor, lab.auditor_password), (lab.service, lab.service_password)])
    assert find_secrets(forms, {"stdout": outcome.stdout, "stderr": outcome.stderr}, files_under(tmp_path)) == []
    if case.statuses:
        report = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
        statuses = {f["checkId"]: f["status"].upper() for f in report["findings"]}
        assert {k: statuses.get(k) for k in case.statuses} == case.statuses
