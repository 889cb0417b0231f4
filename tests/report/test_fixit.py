"""The "fix it" plan: the order of `exaudit plan`, each command once, findings pointing at their steps."""

from __future__ import annotations

from audit.findings import AuditResult, Finding, RunInfo, Severity, Status
from audit.report import Format, render
from audit.report.fixit import fix_plan

CREATE = (
    "New-DistributionGroup -Name 'G' -Type Security\nSet-DistributionGroup -Identity 'G' -MemberJoinRestriction Closed"
)


def _f(check: str, remediation: str, status: Status = Status.FAIL, policy: str = "p") -> Finding:
    return Finding(check, f"title {check}", status, Severity.HIGH, f"message {check}", policy, remediation=remediation)


def test_shared_commands_are_listed_once_and_both_findings_point_at_them() -> None:
    findings = [
        _f("EXA030", CREATE),
        _f("EXA031", CREATE),
        _f("EXA033", "Add-DistributionGroupMember -Identity 'G' -Member 'a@b'"),
    ]
    plan = fix_plan(findings)
    text = "\n".join(step.commands for step in plan.steps)
    assert text.count("New-DistributionGroup") == 1
    assert plan.steps_for(findings[0]) == plan.steps_for(findings[1]) == (1,)
    assert plan.steps[0].fixes == ("EXA030 (p)", "EXA031 (p)")
    assert plan.steps_for(findings[2]) == (2,)


def test_the_group_is_created_before_members_are_added_whatever_the_severity() -> None:
    member = _f("EXA033", "Add-DistributionGroupMember -Identity 'G' -Member 'a@b'")
    plan = fix_plan([member, _f("EXA020", CREATE)])
    assert plan.steps[0].commands.startswith("New-DistributionGroup")


def test_errors_passes_and_empty_remediations_make_no_step() -> None:
    note = _f("EXA040", "# Follows from the assignment, scope and membership fixes.")
    plan = fix_plan([_f("EXA050", "Get-Mailbox", Status.ERROR), _f("EXA001", "x", Status.PASS), _f("EXA012", ""), note])
    assert plan.steps == ()
    html = render(Format.HTML, AuditResult(RunInfo("0", "now", ("p.yaml",), "lab"), (note,)))
    assert "Follows from the assignment" in html  # a note stays with its finding


def test_non_exchange_steps_are_marked_in_html_and_markdown() -> None:
    finding = _f("EXA035", "Enable-ADAccount -Identity 'svc'")
    assert fix_plan([finding]).steps[0].non_exchange
    result = AuditResult(RunInfo("0", "now", ("p.yaml",), "lab"), (finding,))
    assert "not Exchange: ActiveDirectory module" in render(Format.HTML, result)
    assert "not Exchange: ActiveDirectory module" in render(Format.MARKDOWN, result)
    html = render(Format.HTML, result)
    assert html.count("Enable-ADAccount") == 1  # the finding points at the step, the command is printed once
    assert 'href="#fix-1"' in html
