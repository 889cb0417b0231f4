"""Issue 9's access rules end to end (real pypsrp and exchangelib against the lab): what collection reads of them,
what the auditor concludes, and that it agrees with what the lab's EWS answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.lab.authz import Authorizer
from audit.lab.server import LabServer
from audit.snapshot import load

from .conftest import run_cli

pytestmark = pytest.mark.e2e


def finding(run_report: dict[str, object], check: str) -> dict[str, object]:
    findings = run_report["findings"]
    assert isinstance(findings, list)
    return next(f for f in findings if f["checkId"] == check)


def test_exclusive_scope_nobody_of_the_account_uses_is_collected_and_named(tmp_path: Path) -> None:
    with LabServer("exclusive-vip") as lab:
        run = run_cli(lab, tmp_path)
        reached = {m.primary_smtp for m in Authorizer(lab.tenant).reachable_mailboxes("svcServiceAccount")}
    snapshot = load(tmp_path / "snapshot.json")[0]
    # Collection reads every scope of the organisation, not only those the account's assignments use.
    assert [(s.name, s.exclusive) for s in snapshot.scopes if s.exclusive] == [("VIP Mailboxes", True)]
    exa040 = finding(run.report(), "EXA040")
    assert exa040["status"] == "FAIL"
    assert "dirk.dealer@contoso.com (taken away by exclusive scope 'VIP Mailboxes')" in str(exa040["message"])
    # The lab refused exactly that member over EWS; the auditor's set is the lab's set.
    assert "dirk.dealer@contoso.com" not in reached
    assert str(exa040["actual"]).startswith(f"{len(reached)} of ")
    assert run.code == 1
