"""The JUnit XML report: one test suite per policy, one test case per check, for CI test-result tabs.

The four outcomes map 1:1 (pytest ``junitxml`` does the same): PASS is a plain test case, FAIL a ``<failure>``,
ERROR an ``<error>`` (the check could not tell: the run fails closed) and SKIP a ``<skipped>``. The message goes in
the element's ``message`` attribute, the details (expected, actual, remediation, rationale) in its text, and the
evidence in ``<system-out>``. ``junit-xml`` escapes XML and drops characters XML 1.0 cannot carry.
"""

from __future__ import annotations

from junit_xml import TestCase, TestSuite, to_xml_report_string

from audit.findings import AuditResult, Finding, Status
from audit.report.interface import ordered, strip_control


def _details(finding: Finding) -> str:
    parts = [finding.message]
    if finding.expected:
        parts.append(f"Expected: {finding.expected}")
    if finding.actual:
        parts.append(f"Actual: {finding.actual}")
    if finding.location is not None:
        loc = finding.location
        parts.append(f"Policy: {loc.path}:{loc.line}:{loc.column}")
    if finding.remediation:
        parts.append(f"Remediation (PowerShell):\n{finding.remediation}")
    if finding.rationale:
        parts.append(f"Rationale: {finding.rationale}")
    if finding.doc_url:
        parts.append(f"Documentation: {finding.doc_url}")
    return strip_control("\n".join(parts))


def _case(finding: Finding) -> TestCase:
    case = TestCase(
        name=strip_control(f"{finding.check_id} {finding.title}"),
        classname=strip_control(f"exaudit.{finding.policy}"),
        stdout=strip_control("\n".join(finding.evidence)) or None,
        file=finding.location.path if finding.location is not None else None,
        line=finding.location.line if finding.location is not None else None,
    )
    message = strip_control(f"[{finding.severity.value}] {finding.message}")
    if finding.status is Status.FAIL:
        case.add_failure_info(message=message, output=_details(finding), failure_type=finding.check_id)
    elif finding.status is Status.ERROR:
        case.add_error_info(message=message, output=_details(finding), error_type=finding.check_id)
    elif finding.status is Status.SKIP:
        case.add_skipped_info(message=strip_control(finding.waived_by or finding.message), output=_details(finding))
    return case


def _drift_properties(result: AuditResult, policy: str) -> dict[str, str]:
    """Suite properties for the drift since the baseline: counts, and the state of each check that changed."""
    drift = result.drift
    if drift is None:
        return {}
    mine = [c for c in drift.changes if c.finding.policy == policy]
    props = {
        "exaudit.baseline": strip_control(drift.baseline),
        **{f"exaudit.drift.{state}": str(sum(1 for c in mine if c.state.value == state)) for state in _STATES},
    }
    for c in mine:
        props[f"exaudit.baselineState.{c.finding.check_id}"] = c.state.value
    return props


_STATES = ("new", "updated", "unchanged", "absent")


def render(result: AuditResult) -> str:
    """Render the JUnit XML report."""
    by_policy: dict[str, list[TestCase]] = {}
    for finding in ordered(result.findings):
        by_policy.setdefault(finding.policy, []).append(_case(finding))
    suites = [
        TestSuite(
            name=strip_control(f"exaudit.{policy}"),
            test_cases=cases,
            timestamp=result.info.generated_at or None,
            properties={
                "exaudit.version": result.info.tool_version,
                "exaudit.target": strip_control(result.info.target),
                "exaudit.snapshot_sha256": result.info.snapshot_sha256,
                **_drift_properties(result, policy),
            },
        )
        for policy, cases in sorted(by_policy.items())
    ]
    return str(to_xml_report_string(suites, prettyprint=True, encoding="utf-8"))
