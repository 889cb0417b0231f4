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
      "findings": [                         # FAIL, ERROR, SKIP, PASS; then severity, check id, policy
        {"checkId", "title", "status", "severity", "policy", "message", "expected", "actual", "remediation",
         "docUrl", "rationale", "evidence": [...every line...],
         "location": {"path", "line", "column"} | null, "waivedBy": str | null}
      ]
    }

Strings are written as ``json.dumps`` escapes them (``ensure_ascii``), so the file is plain ASCII and a name
such as ``<img src=x>`` is inert data; keys keep a fixed order so two runs diff cleanly.
"""

from __future__ import annotations

import json
from typing import Any

from audit.findings import AuditResult, Finding, Status
from audit.report.interface import ordered

SCHEMA = "exaudit/report"
SCHEMA_VERSION = 1


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
    }


def render(result: AuditResult) -> str:
    """Render the JSON report."""
    return json.dumps(document(result), indent=2, ensure_ascii=True) + "\n"
