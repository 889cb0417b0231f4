"""Collection end to end: a fixed number of cmdlet calls, missing RBAC roles named, the demo in one command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from audit.cli import main
from audit.collect import call_count
from audit.demo import lab_target
from audit.lab.server import LabServer
from audit.policy import load_policy
from audit.run import collect

from .conftest import POLICY

pytestmark = pytest.mark.e2e


def _cmdlet_calls(mailboxes: int) -> tuple[int, dict[str, int], int]:
    with LabServer("compliant", mailboxes=mailboxes) as lab:
        snapshot = collect([load_policy(POLICY)], lab_target(lab, timeout_seconds=120))
        stats = lab.stats()
    assert all(c.ok for c in snapshot.calls), [c.error for c in snapshot.calls if not c.ok]
    return stats["cmdlet_calls"], stats["cmdlets"], len(snapshot.recipients)


def test_cmdlet_call_count_does_not_grow_with_the_mailboxes() -> None:
    small, small_by_cmdlet, small_recipients = _cmdlet_calls(20)
    large, large_by_cmdlet, large_recipients = _cmdlet_calls(20_000)
    assert large_recipients >= 20_000 > small_recipients
    assert small == large == call_count(1) == 12
    assert small_by_cmdlet == large_by_cmdlet
    assert all(name.startswith("Get-") for name in large_by_cmdlet)


def test_a_cmdlet_hidden_by_rbac_is_reported_as_the_missing_role() -> None:
    with LabServer("compliant") as lab:
        creds = lab.credentials
        # The service account holds no View-Only role: Exchange builds its session without the RBAC cmdlets.
        target = lab_target(lab, audit_username=creds.service_username, audit_password=creds.service_password)
        snapshot = collect([load_policy(POLICY)], target)
    (call,) = [c for c in snapshot.calls if c.cmdlet == "Get-ManagementRoleAssignment"]
    assert not call.ok
    assert call.error_kind == "CommandNotFound"
    assert "View-Only Organization Management" in (call.error or "")
    assert "View-Only Configuration" in (call.error or "")


def test_demo_writes_every_report_and_the_snapshot(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["demo", "--out", str(tmp_path / "demo"), "--quiet"], out, err)
    assert code == 0, err.getvalue()
    written = {p.name for p in (tmp_path / "demo").iterdir()}
    assert {"report.html", "junit.xml", "report.json", "report.sarif", "summary.md", "snapshot.json"} <= written
    assert "verdict" in out.getvalue()


def test_collect_then_evaluate_offline_gives_the_live_verdict(tmp_path: Path) -> None:
    from .conftest import run_cli

    with LabServer("group-visible") as lab:
        collected = run_cli(lab, tmp_path / "c", command="collect")
        live = run_cli(lab, tmp_path / "r")
    assert collected.code == 0, collected.stderr  # collection itself succeeded; findings are evaluate's business
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "evaluate",
            str(POLICY),
            "--snapshot",
            str(tmp_path / "c" / "snapshot.json"),
            "--json",
            str(tmp_path / "e.json"),
        ],
        out,
        err,
    )
    assert code == live.code == 1, err.getvalue()
    assert live.not_passing() == {"EXA031"}


def test_random_sample_outside_the_scope_is_probed_and_refused(tmp_path: Path) -> None:
    policy = tmp_path / "sampled.yaml"
    policy.write_text(POLICY.read_text(encoding="utf-8").replace("sample: 0", "sample: 4"), encoding="utf-8")
    with LabServer("compliant", mailboxes=40) as lab:
        first = collect([load_policy(policy)], lab_target(lab, sample_seed=11))
        again = collect([load_policy(policy)], lab_target(lab, sample_seed=11))
    sampled = [p for p in first.probes if p.source == "sample"]
    assert len(sampled) == 4
    assert [p.mailbox for p in sampled] == [p.mailbox for p in again.probes if p.source == "sample"]
    expected = load_policy(policy).expected_members.required
    assert all(p.expect == "deny" and p.mailbox not in expected for p in sampled)
    assert {p.outcome.value for p in sampled} == {"denied"}
