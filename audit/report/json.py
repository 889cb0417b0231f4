"""The JSON report: a stable, documented document for scripts and dashboards.

Structure (``schemaVersion`` 1; fields are only ever added within a schema version)::

    {
      "schema": "exaudit/report",
      "schemaVersion": 1,
      "info": {"toolVersion", "generatedAt", "policies": [...], "target", "snapshotSha256", "collectedAt",
               "serverVersion"},
      "verdict": "NON-COMPLIANT",           # AuditResult.verdict
      "exitCode": 1,                        # the exit-code table of design.md
      "counts": {"PASS": 15, "FAIL": 3, "ERROR": 1, "SKIP": 1, "total": 20},
      "findings": [                         # worst first: FAIL and ERROR by severity, then SKIP, PASS
        {"checkId", "title", "status", "severity", "policy", "message", "expected", "actual", "remediation",
         "docUrl", "rationale", "evidence": [...every line...],
         "location": {"path", "line", "column"} | null, "waivedBy": str | null}
      ],
      "drift": {"baseline", "summary", "changes": [{"checkId", "policy", "state", "before", "status",
                "evidenceAdded", "evidenceRemoved"}], "exchange": [...]}   # only with --baseline
    }

``REPORT_JSON_SCHEMA`` states the same as a JSON Schema. Strings are written as ``json.dumps`` escapes them
(``ensure_ascii``), so the file is plain ASCII and a name such as ``<img src=x>`` is inert data; keys keep a fixed
order so two runs diff cleanly.
"""

from __future__ import annotations

import json
from typing import Any

from audit.findings import AuditResult, ExitCode, Finding, Severity, Status
from audit.report.interface import ordered

SCHEMA = "exaudit/report"
SCHEMA_VERSION = 1

_TEXT: dict[str, Any] = {"type": "string"}
_STATUS: dict[str, Any] = {"enum": [s.value for s in Status]}

# The structure above as a JSON Schema (draft 2020-12), for consumers who validate what they read; the tests check
# every report against it.
REPORT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://exaudit.invalid/schemas/report-v1.json",
    "title": "exaudit report",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "schemaVersion", "info", "verdict", "exitCode", "counts", "findings"],
    "properties": {
        "schema": {"const": SCHEMA},
        "schemaVersion": {"const": SCHEMA_VERSION},
        "info": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "toolVersion", "generatedAt", "policies", "target", "snapshotSha256", "collectedAt", "serverVersion"
            ],
            "properties": {
                "toolVersion": _TEXT,
                "generatedAt": _TEXT,
                "policies": {"type": "array", "items": _TEXT},
                "target": _TEXT,
                "snapshotSha256": {"type": "string", "pattern": "^([0-9a-f]{64})?$"},
                "collectedAt": _TEXT,
                "serverVersion": _TEXT,
            },
        },
        "verdict": {"enum": ["COMPLIANT", "NON-COMPLIANT", "UNKNOWN (fail closed)", "NOTHING EVALUATED", "UNKNOWN"]},
        "exitCode": {"type": "integer", "enum": [int(code) for code in ExitCode]},
        "counts": {
            "type": "object",
            "additionalProperties": False,
            "required": [*(s.value for s in Status), "total"],
            "properties": {key: {"type": "integer", "minimum": 0} for key in [*(s.value for s in Status), "total"]},
        },
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "checkId", "title", "status", "severity", "policy", "message", "expected", "actual",
                    "remediation", "docUrl", "rationale", "evidence", "location", "waivedBy",
                ],
                "properties": {
                    "checkId": {"type": "string", "pattern": "^EXA[0-9]{3}$"},
                    "title": _TEXT,
                    "status": _STATUS,
                    "severity": {"enum": [s.value for s in Severity]},
                    "policy": _TEXT,
                    "message": _TEXT,
                    "expected": _TEXT,
                    "actual": _TEXT,
                    "remediation": _TEXT,
                    "docUrl": _TEXT,
                    "rationale": _TEXT,
                    "evidence": {"type": "array", "items": _TEXT},
                    "location": {
                        "oneOf": [
                            {"type": "null"},
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["path", "line", "column"],
                                "properties": {
                                    "path": _TEXT,
                                    "line": {"type": "integer", "minimum": 1},
                                    "column": {"type": "integer", "minimum": 1},
                                },
                            },
                        ]
                    },
                    "waivedBy": {"type": ["string", "null"]},
                },
            },
        },
        "drift": {
            "type": "object",
            "required": ["baseline", "summary", "changes", "exchange"],
            "properties": {
                "baseline": _TEXT,
                "summary": _TEXT,
                "changes": {"type": "array", "items": {"type": "object", "required": ["checkId", "policy", "state"]}},
                "exchange": {"type": "array", "items": _TEXT},
            },
        },
    },
}  # fmt: skip


def finding_document(finding: Finding) -> dict[str, Any]:
    """One finding as a JSON object."""
    location = finding.location
    return {
        "checkId": finding.check_id,
        "title": finding.title,
        "status": finding.status.value,
        "severity": finding.severity.value,
        "policy": finding.policy,
        "message": finding.message,
        "expected": finding.expected,
        "actual": finding.actual,
        "remediation": finding.remediation,
        "docUrl": finding.doc_url,
        "rationale": finding.rationale,
        "evidence": list(finding.evidence),
        "location": (
            {"path": location.path, "line": location.line, "column": location.column} if location is not None else None
        ),
        "waivedBy": finding.waived_by,
    }


def document(result: AuditResult) -> dict[str, Any]:
    """The whole report as a JSON-ready dict."""
    info = result.info
    counts: dict[str, int] = {status.value: result.counts[status] for status in Status}
    counts["total"] = len(result.findings)
    return {
        "schema": SCHEMA,
        "schemaVersion": SCHEMA_VERSION,
        "info": {
            "toolVersion": info.tool_version,
            "generatedAt": info.generated_at,
            "policies": list(info.policies),
            "target": info.target,
            "snapshotSha256": info.snapshot_sha256,
            "collectedAt": info.collected_at,
            "serverVersion": info.server_version,
        },
        "verdict": result.verdict,
        "exitCode": int(result.exit_code),
        "counts": counts,
        "findings": [finding_document(f) for f in ordered(result.findings)],
    } | ({"drift": drift_document(result)} if result.drift is not None else {})


def drift_document(result: AuditResult) -> dict[str, Any]:
    """The drift since ``--baseline``: every finding change; the Exchange changes bounded (and how many more)."""
    drift = result.drift
    assert drift is not None
    return {
        "baseline": drift.baseline,
        "summary": drift.summary(),
        "changes": [
            {
                "checkId": c.finding.check_id,
                "policy": c.finding.policy,
                "state": c.state.value,
                "before": c.before.value if c.before is not None else None,
                "status": "PASS" if c.state.value == "absent" else c.finding.status.value,
                "evidenceAdded": list(c.added),
                "evidenceRemoved": list(c.removed),
            }
            for c in drift.changes
        ],
        "exchange": list(drift.evidence),
        "exchangeMore": drift.evidence_more,
    }


def render(result: AuditResult) -> str:
    """Render the JSON report."""
    return json.dumps(document(result), indent=2, ensure_ascii=True) + "\n"
