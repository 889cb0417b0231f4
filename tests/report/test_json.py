"""The JSON report: its documented structure, every evidence line kept."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import jsonschema

from audit.findings import AuditResult
from audit.report import Format, render
from audit.report.json import REPORT_JSON_SCHEMA, SCHEMA, SCHEMA_VERSION


def _doc(result: AuditResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render(Format.JSON, result))
    return document


def test_documented_structure(sample_result: AuditResult) -> None:
    doc = _doc(sample_result)
    assert list(doc) == ["schema", "schemaVersion", "info", "verdict", "exitCode", "counts", "findings"]
    assert (doc["schema"], doc["schemaVersion"]) == (SCHEMA, SCHEMA_VERSION)
    assert doc["verdict"] == "UNKNOWN (fail closed)"
    assert doc["exitCode"] == 3
    assert doc["counts"] == {"PASS": 5, "FAIL": 4, "ERROR": 1, "SKIP": 2, "total": 12}
    assert doc["info"]["snapshotSha256"] == sample_result.info.snapshot_sha256
    assert doc["info"]["policies"] == ["policies/callpro.yaml", "policies/planner.yaml"]
    first = doc["findings"][0]
    assert list(first) == [
        "checkId", "title", "status", "severity", "policy", "message", "expected", "actual", "remediation",
        "docUrl", "rationale", "evidence", "location", "waivedBy",
    ]  # fmt: skip
    assert (first["checkId"], first["status"], first["severity"]) == ("EXA012", "FAIL", "critical")
    assert first["location"] == {"path": "policies/callpro.yaml", "line": 14, "column": 3}
    waived = next(f for f in doc["findings"] if f["checkId"] == "EXA031")
    assert waived["waivedBy"] == "group must stay visible until migration week"


def test_every_evidence_line_is_kept(sample_result: AuditResult) -> None:
    members = tuple(f"unexpected: user{n:04d}@contoso.com" for n in range(2000))
    finding = replace(sample_result.findings[1], evidence=members)
    doc = _doc(AuditResult(info=sample_result.info, findings=(finding,)))
    assert doc["findings"][0]["evidence"] == list(members)


def test_output_is_ascii_and_hostile_text_is_data(sample_result: AuditResult) -> None:
    text = render(Format.JSON, sample_result)
    assert text.isascii()
    assert "\\u003c" not in text  # json escapes quotes and controls, not '<'; the document is data, not markup
    doc = json.loads(text)
    assert any("<img src=x onerror=alert(1)>" in line for f in doc["findings"] for line in f["evidence"])


def test_every_report_validates_against_the_published_schema(sample_result: AuditResult) -> None:
    validator_cls = jsonschema.validators.validator_for(REPORT_JSON_SCHEMA)
    assert validator_cls is jsonschema.Draft202012Validator
    validator_cls.check_schema(REPORT_JSON_SCHEMA)
    validator = validator_cls(REPORT_JSON_SCHEMA)
    empty = AuditResult(info=sample_result.info, findings=())
    for result in (sample_result, empty):
        assert sorted(validator.iter_errors(_doc(result)), key=str) == []
    broken = _doc(sample_result)
    broken["findings"][0]["status"] = "MAYBE"
    assert not validator.is_valid(broken)
