"""The JUnit report read back by a real consumer, junitparser."""

from __future__ import annotations

from dataclasses import replace

from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite

from audit.findings import AuditResult, Status
from audit.report import Format, render


def _parse(result: AuditResult) -> JUnitXml:
    # A consumer reads the file as bytes: the document declares its encoding (utf-8).
    xml = JUnitXml.fromstring(render(Format.JUNIT, result).encode("utf-8"))
    assert isinstance(xml, JUnitXml)
    return xml


def test_one_suite_per_policy_and_one_case_per_check(sample_result: AuditResult) -> None:
    xml = _parse(sample_result)
    suites = {suite.name: suite for suite in xml if isinstance(suite, TestSuite)}
    assert set(suites) == {"exaudit.callpro-calendar-access", "exaudit.planner-room-access"}
    assert sum(len(list(suite)) for suite in suites.values()) == len(sample_result.findings)
    callpro = suites["exaudit.callpro-calendar-access"]
    assert (callpro.tests, callpro.failures, callpro.errors, callpro.skipped) == (9, 3, 1, 2)
    planner = suites["exaudit.planner-room-access"]
    assert (planner.tests, planner.failures, planner.errors, planner.skipped) == (3, 1, 0, 0)


def test_outcomes_map_one_to_one(sample_result: AuditResult) -> None:
    xml = _parse(sample_result)
    expected = {(f"exaudit.{f.policy}", f"{f.check_id} {f.title}"): f for f in sample_result.findings}
    seen = 0
    for suite in xml:
        for case in suite:
            finding = expected[(case.classname, case.name)]
            seen += 1
            kinds = [type(r) for r in case.result]
            if finding.status is Status.PASS:
                assert kinds == []
                assert case.is_passed
            elif finding.status is Status.FAIL:
                assert kinds == [Failure]
            elif finding.status is Status.ERROR:
                assert kinds == [Error]
            else:
                assert kinds == [Skipped]
    assert seen == len(sample_result.findings)


def test_message_details_and_evidence_are_carried(sample_result: AuditResult) -> None:
    xml = _parse(sample_result)
    cases = {(c.classname, c.name): c for s in xml for c in s}
    case = cases[("exaudit.callpro-calendar-access", "EXA012 Impersonation assignment is scoped")]
    failure = case.result[0]
    assert isinstance(failure, Failure)
    assert failure.message.startswith("[critical] The ApplicationImpersonation assignment")
    assert failure.type == "EXA012"
    assert "Expected: RecipientWriteScope CustomRecipientScope" in failure.text
    assert "Set-ManagementRoleAssignment" in failure.text
    assert "policies/callpro.yaml:14:3" in failure.text
    assert case.system_out is not None
    assert "RecipientWriteScope=Organization" in case.system_out
    skipped = cases[("exaudit.callpro-calendar-access", "EXA031 Group is hidden from address lists")].result[0]
    assert skipped.message == "group must stay visible until migration week"


def test_hostile_text_stays_text(sample_result: AuditResult) -> None:
    xml = _parse(sample_result)
    cases = {(c.classname, c.name): c for s in xml for c in s}
    case = cases[("exaudit.callpro-calendar-access", "EXA033 Group members match the policy")]
    assert case.result[0].message.endswith("<img src=x onerror=alert(1)>")
    assert "<img src=x onerror=alert(1)> (evil@contoso.com)" in (case.system_out or "")


def test_characters_xml_cannot_carry_are_dropped(sample_result: AuditResult) -> None:
    finding = replace(sample_result.findings[3], message="nul\x00 bell\x07 esc\x1b[31m end")
    xml = _parse(AuditResult(info=sample_result.info, findings=(finding,)))
    message = next(iter(next(iter(xml)))).result[0].message
    assert message == "[critical] nul\ufffd bell\ufffd esc\ufffd[31m end"
