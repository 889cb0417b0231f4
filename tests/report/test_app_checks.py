"""Every report format renders the Exchange Online app checks (EXA070-EXA078) from a real evaluation."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

import pytest

from audit.evaluate import evaluate
from audit.evaluate.checks import APP_CHECKS
from audit.findings import AuditResult, Status
from audit.report import Format, render
from tests.evaluate.app_snapshot import NOW, exo_policy, grant, online_snapshot
from tests.report.conftest import sample_info


@pytest.fixture
def union_trap() -> AuditResult:
    snapshot = dataclasses.replace(online_snapshot(), app_role_grants=(grant("Calendars.ReadWrite"),))
    return AuditResult(info=sample_info(), findings=evaluate(exo_policy(), snapshot, NOW))


@pytest.mark.parametrize("fmt", [f for f in Format if f is not Format.HTML])
def test_every_format_names_every_app_check(fmt: Format, union_trap: AuditResult) -> None:
    text = render(fmt, union_trap)
    # The Markdown job summary lists what needs attention; the other formats list every check.
    shown = {f.check_id for f in union_trap.findings if fmt is not Format.MARKDOWN or f.status is not Status.PASS}
    assert shown & APP_CHECKS
    for check_id in shown & APP_CHECKS:
        assert check_id in text, (fmt, check_id)


def test_html_shows_the_union_finding(union_trap: AuditResult) -> None:
    text = render(Format.HTML, union_trap)
    assert "EXA074" in text
    assert "Remove-MgServicePrincipalAppRoleAssignment" in text


def test_machine_formats_carry_the_critical_union_finding(union_trap: AuditResult) -> None:
    doc = json.loads(render(Format.JSON, union_trap))
    text = json.dumps(doc)
    assert "EXA074" in text
    assert union_trap.counts[Status.FAIL] >= 1
    sarif = json.loads(render(Format.SARIF, union_trap))
    rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules >= APP_CHECKS
    results = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "EXA074"]
    assert results
    assert results[0]["level"] == "error"
    junit = ET.fromstring(render(Format.JUNIT, union_trap))
    failed = [c.get("name") or "" for c in junit.iter("testcase") if c.find("failure") is not None]
    assert any("EXA074" in name for name in failed)
