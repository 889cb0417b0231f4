"""The SARIF report validated against the official 2.1.0 schema and checked for what code scanning needs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from audit.findings import AuditResult, Severity, SourceLocation, Status
from audit.report import Format, render
from audit.report.sarif import FINGERPRINT_KEY

SCHEMA_PATH = Path(__file__).parent.parent / "data" / "report" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    # The schema declares draft-04 in its $schema; validator_for honours that.
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft4Validator
    cls.check_schema(schema)
    return cls(schema)


def _sarif(result: AuditResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render(Format.SARIF, result))
    return document


def test_validates_against_the_official_schema(
    sample_result: AuditResult, validator: jsonschema.protocols.Validator
) -> None:
    errors = sorted(validator.iter_errors(_sarif(sample_result)), key=str)
    assert errors == []


def test_the_validator_catches_a_broken_log(
    sample_result: AuditResult, validator: jsonschema.protocols.Validator
) -> None:
    document = _sarif(sample_result)
    document["runs"][0]["results"][0]["level"] = "fatal"
    assert not validator.is_valid(document)


def test_rules_one_per_check_id(sample_result: AuditResult) -> None:
    run = _sarif(sample_result)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert ids == sorted({f.check_id for f in sample_result.findings})
    rule = rules[ids.index("EXA012")]
    assert rule["shortDescription"]["text"] == "Impersonation assignment is scoped"
    assert rule["fullDescription"]["text"].startswith("An unscoped ApplicationImpersonation")
    assert rule["helpUri"].startswith("https://learn.microsoft.com/")
    assert "Set-ManagementRoleAssignment" in rule["help"]["text"]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rule["name"] == "ImpersonationAssignmentIsScoped"


def test_results_for_fail_error_and_waivers_only(sample_result: AuditResult) -> None:
    run = _sarif(sample_result)["runs"][0]
    results = run["results"]
    by_rule = {r["ruleId"]: r for r in results}
    assert [r["ruleId"] for r in results] == ["EXA012", "EXA033", "EXA050", "EXA032", "EXA035", "EXA031"]
    assert by_rule["EXA012"]["level"] == "error"
    assert by_rule["EXA032"]["level"] == "warning"
    assert by_rule["EXA035"]["level"] == "note"
    assert by_rule["EXA050"]["message"]["text"].startswith("Could not evaluate: ")
    assert all(r["kind"] == "fail" for r in results if r["ruleId"] != "EXA031")
    waived = by_rule["EXA031"]
    assert (waived["kind"], waived["level"]) == ("review", "none")
    assert waived["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "group must stay visible until migration week"}
    ]
    rules = run["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_results_point_at_the_policy_line(sample_result: AuditResult) -> None:
    results = _sarif(sample_result)["runs"][0]["results"]
    location = next(r for r in results if r["ruleId"] == "EXA033")["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "policies/callpro.yaml", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 24, "startColumn": 5}


def test_absolute_and_windows_paths_become_file_uris(sample_result: AuditResult) -> None:
    base = sample_result.findings[3]
    findings = (
        replace(base, check_id="EXA012", location=SourceLocation("/srv/policies/call pro.yaml", 3, 1)),
        replace(base, check_id="EXA013", location=SourceLocation("C:\\policies\\callpro.yaml", 4, 2)),
    )
    results = _sarif(AuditResult(info=sample_result.info, findings=findings))["runs"][0]["results"]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in results]
    assert uris == [{"uri": "file:///srv/policies/call%20pro.yaml"}, {"uri": "file:///C:/policies/callpro.yaml"}]


def test_fingerprints_are_stable_per_policy_and_check(sample_result: AuditResult) -> None:
    first = _sarif(sample_result)["runs"][0]["results"]
    changed = tuple(replace(f, message=f.message + " (changed)") for f in sample_result.findings)
    second = _sarif(AuditResult(info=sample_result.info, findings=changed))["runs"][0]["results"]
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in first]
    assert prints == [r["partialFingerprints"][FINGERPRINT_KEY] for r in second]
    assert len(set(prints)) == len(prints)


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (Severity.CRITICAL, "error"),
        (Severity.HIGH, "error"),
        (Severity.MEDIUM, "warning"),
        (Severity.LOW, "note"),
        (Severity.INFO, "note"),
    ],
)
def test_level_follows_severity(severity: Severity, level: str, sample_result: AuditResult) -> None:
    finding = replace(sample_result.findings[3], severity=severity, status=Status.FAIL)
    results = _sarif(AuditResult(info=sample_result.info, findings=(finding,)))["runs"][0]["results"]
    assert results[0]["level"] == level


@pytest.mark.parametrize("severity", list(Severity))
def test_an_error_is_an_error_whatever_its_severity(severity: Severity, sample_result: AuditResult) -> None:
    """Could not tell is an unknown state (exit code 3): never a mere note in a code-scanning view."""
    finding = replace(sample_result.findings[3], severity=severity, status=Status.ERROR)
    results = _sarif(AuditResult(info=sample_result.info, findings=(finding,)))["runs"][0]["results"]
    assert results[0]["level"] == "error"
    assert results[0]["message"]["text"].startswith("Could not evaluate")


def test_an_empty_run_is_valid(sample_result: AuditResult, validator: jsonschema.protocols.Validator) -> None:
    document = _sarif(AuditResult(info=sample_result.info, findings=()))
    assert validator.is_valid(document)
    assert document["runs"][0]["results"] == []
    assert document["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_messages_cannot_carry_embedded_links(sample_result: AuditResult) -> None:
    finding = replace(sample_result.findings[3], message="member [click me](https://evil.example/) added")
    results = _sarif(AuditResult(info=sample_result.info, findings=(finding,)))["runs"][0]["results"]
    assert results[0]["message"]["text"].startswith("member \\[click me\\](https://evil.example/) added")


def test_help_markdown_fences_remediation_safely(sample_result: AuditResult) -> None:
    finding = replace(sample_result.findings[3], remediation="Write-Host '```'\nRemove-X '<img src=x>'")
    rule = _sarif(AuditResult(info=sample_result.info, findings=(finding,)))["runs"][0]["tool"]["driver"]["rules"][0]
    assert "\n````powershell\nWrite-Host '```'\nRemove-X '<img src=x>'\n````" in rule["help"]["markdown"]
