"""The SARIF 2.1.0 report, for code-scanning views (GitHub, Azure DevOps) that point at the policy file line.

Decisions, so a reader of the SARIF knows what each result means:

- ``tool.driver.rules`` holds one rule per check id seen in the run (PASS included, so the rule list is stable
  while results come and go), with the check's title, rationale, documentation link and a help text carrying the
  remediation of the first finding of that check.
- A FAIL is a result of ``kind: fail`` with a level from its severity (critical/high -> ``error``, medium ->
  ``warning``, low/info -> ``note``). An ERROR (the check could not tell; the run fails closed with exit code 3)
  is a ``kind: fail`` result at level ``error`` whatever the check's severity (an unknown state must not read
  as a note in a code-scanning view), its message starting "Could not evaluate".
- A waived check (SKIP with ``waived_by``) is a ``kind: review``, ``level: none`` result carrying an accepted
  external ``suppression`` whose justification is the waiver's reason, so code scanning shows it as dismissed
  rather than forgetting it. Other SKIPs (not applicable) and PASSes produce no result.
- Each result points at the policy file line its expectation comes from (``Finding.location``): a relative path
  against ``%SRCROOT%``, an absolute one as a ``file://`` URI with no base id (github/codeql-action
  ``upload-sarif`` relativizes those against its ``checkout_path``). ``partialFingerprints`` hash (policy, check
  id), so a finding keeps its identity across runs while its message changes.
- Result messages escape ``[`` and ``]``: SARIF plain text turns ``[text](target)`` into a link (SARIF 2.1.0
  section 3.11.6) and a recipient's name must stay text.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from audit.drift import BaselineState
from audit.findings import AuditResult, Finding, Severity, Status
from audit.report import markdown
from audit.report.interface import ordered, strip_control

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
FINGERPRINT_KEY = "exauditFinding/v1"
_BRACKETS = re.compile(r"[\[\]]")

LEVELS: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

# GitHub code scanning ranks results by this property (a CVSS-like number as a string).
SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def fingerprint(finding: Finding) -> str:
    """A stable identity for a finding: the same policy and check give the same value on every run."""
    return hashlib.sha256(f"{finding.policy}\x00{finding.check_id}".encode()).hexdigest()[:32]


def _artifact_location(path: str) -> dict[str, str]:
    windows = PureWindowsPath(path)
    if windows.drive or path.startswith("/"):
        posix = windows.as_posix() if windows.drive else path
        return {"uri": "file://" + ("/" if windows.drive else "") + quote(posix, safe="/:")}
    return {"uri": quote(PurePosixPath(windows.as_posix()).as_posix()), "uriBaseId": "%SRCROOT%"}


def _rule(finding: Finding) -> dict[str, Any]:
    help_text = finding.rationale or finding.title
    help_markdown = markdown.escape(help_text)
    if finding.remediation:
        help_text += f"\n\nRemediation (PowerShell):\n{finding.remediation}"
        help_markdown += f"\n\n**Remediation** (PowerShell):\n\n{markdown.fenced(finding.remediation, 'powershell')}"
    rule: dict[str, Any] = {
        "id": finding.check_id,
        "name": "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", finding.title)) or finding.check_id,
        "shortDescription": {"text": strip_control(finding.title)},
        "fullDescription": {"text": strip_control(finding.rationale or finding.title)},
        "help": {"text": strip_control(help_text), "markdown": strip_control(help_markdown)},
        "defaultConfiguration": {"level": LEVELS[finding.severity]},
        "properties": {
            "tags": ["security", "exchange", "rbac"],
            "security-severity": SECURITY_SEVERITY[finding.severity],
        },
    }
    if finding.doc_url:
        rule["helpUri"] = finding.doc_url
    return rule


def _message(finding: Finding) -> str:
    text = finding.message
    if finding.status is Status.ERROR:
        text = f"Could not evaluate: {text}"
    if finding.status is Status.SKIP and finding.waived_by:
        text = f"Waived: {finding.waived_by}"
    details = []
    if finding.expected:
        details.append(f"expected {finding.expected}")
    if finding.actual:
        details.append(f"actual {finding.actual}")
    if details:
        text += " (" + "; ".join(details) + ")"
    # SARIF plain-text messages turn "[text](target)" into links (SARIF 2.1.0 section 3.11.6); a name an attacker
    # chose must stay text, so brackets are escaped as the spec defines.
    return _BRACKETS.sub(r"\\\g<0>", strip_control(text))


def _result(finding: Finding, rule_index: int, fallback_policy: str | None) -> dict[str, Any]:
    waived = finding.status is Status.SKIP
    result: dict[str, Any] = {
        "ruleId": finding.check_id,
        "ruleIndex": rule_index,
        "kind": "review" if waived else "fail",
        "level": "none" if waived else "error" if finding.status is Status.ERROR else LEVELS[finding.severity],
        "message": {"text": _message(finding)},
    }
    location = finding.location
    if location is not None:
        result["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": _artifact_location(location.path),
                    "region": {"startLine": max(location.line, 1), "startColumn": max(location.column, 1)},
                }
            }
        ]
    elif fallback_policy is not None:
        # No line is known: point at the top of the one policy file so code scanning still has a place to show.
        result["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": _artifact_location(fallback_policy),
                    "region": {"startLine": 1, "startColumn": 1},
                }
            }
        ]
    result["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint(finding)}
    properties: dict[str, Any] = {
        "status": finding.status.value,
        "severity": finding.severity.value,
        "policy": strip_control(finding.policy),
    }
    if finding.evidence:
        properties["evidence"] = [strip_control(line) for line in finding.evidence]
    if finding.remediation:
        properties["remediation"] = strip_control(finding.remediation)
    result["properties"] = properties
    if waived:
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": strip_control(finding.waived_by or "")}
        ]
    return result


def baseline_states(
    results: list[dict[str, Any]], result: AuditResult, rules: dict[str, dict[str, Any]], fallback: str | None
) -> list[dict[str, Any]]:
    """Mark each result new/unchanged/updated against the baseline and add the fixed ones as ``absent``.

    SARIF 2.1.0 section 3.27.24: ``absent`` is a result of the baseline no longer present in this run; code
    scanning closes the alert. A waived (SKIP) result that failed before is reported as it is, not as absent.
    """
    drift = result.drift
    assert drift is not None
    present = set()
    for item in results:
        key = (item["properties"]["policy"], item["ruleId"])
        present.add(key)
        state = drift.states.get(key) or BaselineState.NEW  # every current result has a state
        # Failing before and waived now: the result is still here (suppressed), so it changed, it is not absent.
        item["baselineState"] = (BaselineState.UPDATED if state is BaselineState.ABSENT else state).value
    for change in drift.fixed:
        f = change.finding
        if (strip_control(f.policy), f.check_id) in present:
            continue
        rules.setdefault(f.check_id, _rule(f))
        absent = _result(f, list(rules).index(f.check_id), fallback)
        absent.update({"kind": "pass", "level": "none", "baselineState": "absent"})
        absent["message"] = {"text": f"Fixed since the baseline: {_message(f)}"}
        results.append(absent)
    return results


def document(result: AuditResult) -> dict[str, Any]:
    """The whole report as a SARIF 2.1.0 log (a JSON-ready dict)."""
    findings = ordered(result.findings)
    rules: dict[str, dict[str, Any]] = {}
    for finding in sorted(findings, key=lambda f: f.check_id):
        rules.setdefault(finding.check_id, _rule(finding))
    rule_ids = list(rules)
    fallback = result.info.policies[0] if len(result.info.policies) == 1 else None
    results = [
        _result(f, rule_ids.index(f.check_id), fallback)
        for f in findings
        if f.status in (Status.FAIL, Status.ERROR) or (f.status is Status.SKIP and f.waived_by)
    ]
    if result.drift is not None:
        results = baseline_states(results, result, rules, fallback)
    invocation: dict[str, Any] = {
        # The run completed its evaluation (compliant or not); exit code 3/4 means it could not decide.
        "executionSuccessful": int(result.exit_code) in (0, 1),
        "exitCode": int(result.exit_code),
    }
    if result.info.generated_at:
        invocation["endTimeUtc"] = result.info.generated_at
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "exaudit",
                        "version": result.info.tool_version,
                        "semanticVersion": result.info.tool_version,
                        "rules": list(rules.values()),
                    }
                },
                "invocations": [invocation],
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The directory exaudit ran in."}}},
                "results": results,
                "properties": {
                    "verdict": result.verdict,
                    "target": strip_control(result.info.target),
                    "snapshotSha256": result.info.snapshot_sha256,
                    "serverVersion": strip_control(result.info.server_version),
                    "counts": {status.value: result.counts[status] for status in Status},
                },
            }
        ],
    }


def render(result: AuditResult) -> str:
    """Render the SARIF report."""
    return json.dumps(document(result), indent=2, ensure_ascii=True) + "\n"
