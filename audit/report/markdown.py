"""The Markdown report, sized for a CI job summary (GitHub ``$GITHUB_STEP_SUMMARY``, GitLab, Azure DevOps).

A headline verdict, a counts table, a table of the findings that need attention and, per finding, the details
and the remediation PowerShell in a collapsible ``<details>`` block. Text from findings is HTML-escaped and its
Markdown punctuation backslash-escaped, so a recipient named ``<img src=x onerror=alert(1)>`` or ``a | b`` prints
as written and cannot break a table, open a link or inject HTML; code goes in fences longer than any backtick run
it holds.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from audit.findings import AuditResult, Finding, Status
from audit.report.fixit import RECHECK, Plan, fix_plan
from audit.report.interface import one_line, ordered, shown_evidence, strip_control
from audit.report.since import since_view

EMOJI: dict[Status, str] = {
    Status.FAIL: "\u274c",  # cross mark
    Status.ERROR: "\u26a0\ufe0f",  # warning sign
    Status.SKIP: "\u23ed\ufe0f",  # next track
    Status.PASS: "\u2705",  # check mark
}

_VERDICT_EMOJI = {0: EMOJI[Status.PASS], 1: EMOJI[Status.FAIL]}

# Characters that start emphasis, code, links, tables, strikethrough or HTML anywhere in a line are
# backslash-escaped; '&', '<', '>' and '"' become entities, in the same pass so an entity's '#' is never touched.
# '(', ')', '.', '-', '+' and '#' only mean something at the start of a line (a list or a heading): see _LEADING.
_SPECIAL = re.compile(r"[\\`*_{}\[\]|~&<>\"]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_LEADING = re.compile(r"^(\d{1,9})([.)])|^([-+#=])")
_BACKTICKS = re.compile(r"`+")


def escape(text: str, *, line_start: bool = False) -> str:
    """Escape text for one line of Markdown (a table cell or a paragraph): entities and backslashes, one pass.

    ``line_start`` also escapes what starts a list or heading, for text that begins a line.
    """
    escaped = _SPECIAL.sub(lambda m: _ENTITIES.get(m[0], "\\" + m[0]), one_line(text))
    if not line_start:
        return escaped
    return _LEADING.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", escaped, count=1)


def fenced(text: str, language: str = "") -> str:
    """A fenced code block that no content can close early."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{strip_control(text)}\n{fence}"


def _link(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        return escape(url)
    return f"[documentation](<{quote(url, safe=':/?#@!$&*+,;=%~-._')}>)"


def _details(finding: Finding, plan: Plan) -> list[str]:
    lines = [
        "<details>",
        f"<summary>{EMOJI[finding.status]} {html.escape(finding.status.value)} "
        f"{html.escape(one_line(finding.check_id))}: {html.escape(one_line(finding.title))} "
        f"({html.escape(finding.severity.value)}, policy {html.escape(one_line(finding.policy))})</summary>",
        "",
        escape(finding.message, line_start=True),
        "",
    ]
    if finding.waived_by:
        lines += [f"**Waived:** {escape(finding.waived_by)}", ""]
    if finding.expected:
        lines += [f"**Expected:** {escape(finding.expected)}", ""]
    if finding.actual:
        lines += [f"**Actual:** {escape(finding.actual)}", ""]
    if finding.location is not None:
        loc = finding.location
        lines += [f"**Policy:** {escape(f'{loc.path}:{loc.line}:{loc.column}')}", ""]
    evidence, more = shown_evidence(finding)
    if evidence:
        lines += ["**Evidence:**", "", fenced("\n".join(evidence), "text"), ""]
        if more:
            lines += [f"\u2026 and {more:,} more (the JSON report has them all)", ""]
    steps = plan.steps_for(finding)
    if steps:
        refs = ", ".join(f"[step {n}](#fix-it)" for n in steps)
        lines += [f"**Fix:** {refs} of the plan below.", ""]
    elif finding.remediation:
        lines += [
            "**Remediation** (PowerShell, review before running):",
            "",
            fenced(finding.remediation, "powershell"),
            "",
        ]
    if finding.rationale:
        lines += [f"**Why it matters:** {escape(finding.rationale)}", ""]
    if finding.doc_url:
        lines += [f"See the {_link(finding.doc_url)}.", ""]
    lines += ["</details>", ""]
    return lines


def _since(result: AuditResult) -> list[str]:
    assert result.drift is not None
    view = since_view(result.drift)
    lines = ["### Since last run", "", escape(view.summary, line_start=True), ""]
    if view.rows:
        lines += ["| Change | Check | Status | Severity | Policy | Message |", "|:--|:--|:--|:--|:--|:--|"]
        for row in view.rows:
            status = f"{row.before} \u2192 {row.status}" if row.before and row.before != row.status else row.status
            lines.append(
                f"| {escape(row.label)} | {escape(row.check_id)} | {escape(status)} | {escape(row.severity)} "
                f"| {escape(row.policy)} | {escape(row.message)} |"
            )
        lines.append("")
        for row in view.rows:
            if row.changes:
                lines += [
                    f"**{escape(row.check_id)}** evidence changed:",
                    "",
                    fenced("\n".join(row.changes), "diff"),
                    "",
                ]
    if view.evidence:
        more = [f"\u2026 and {view.evidence_more:,} more"] if view.evidence_more else []
        lines += ["**Changes in Exchange:**", "", fenced("\n".join([*view.evidence, *more]), "text"), ""]
    return lines


def render(result: AuditResult) -> str:
    """Render the Markdown report."""
    info = result.info
    code = int(result.exit_code)
    verdict_emoji = _VERDICT_EMOJI.get(code, EMOJI[Status.ERROR])
    lines = [
        f"## {verdict_emoji} exaudit: {escape(result.verdict)}",
        "",
        f"**Exit code {code}** \u00b7 {len(result.findings)} checks \u00b7 target {escape(info.target)} "
        f"\u00b7 exaudit {escape(info.tool_version)} \u00b7 {escape(info.generated_at)}",
        "",
        "| Status | Count |",
        "|:--|--:|",
    ]
    lines += [
        f"| {EMOJI[s]} {s.value} | {result.counts[s]} |" for s in (Status.FAIL, Status.ERROR, Status.SKIP, Status.PASS)
    ]
    lines.append("")
    facts = [
        ("Policies", ", ".join(info.policies)),
        ("Snapshot checksum (SHA-256, unsigned)", info.snapshot_sha256),
        ("Collected at", info.collected_at),
        ("Exchange server", info.server_version),
    ]
    lines += [f"- **{label}:** {escape(value)}" for label, value in facts if value]
    lines.append("")
    for s in info.subjects:
        group = f" \u00b7 group {escape(s.group)}" if s.group else ""
        lines += [
            f"**Under audit** ({escape(s.policy)}): {escape(s.principal)} holds {escape(s.role)} via {escape(s.via)}, "
            f"limited by scope {escape(s.scope)} (filter {escape(s.recipient_filter)}){group}",
            "",
        ]
    if result.drift is not None:
        lines += _since(result)
    attention = [f for f in ordered(result.findings) if f.status is not Status.PASS]
    if not attention:
        lines += ["Every check passed." if result.findings else "Nothing was evaluated.", ""]
        return "\n".join(lines)
    lines += [
        "### Findings that need attention",
        "",
        "| Status | Check | Severity | Policy | Message |",
        "|:--|:--|:--|:--|:--|",
    ]
    lines += [
        f"| {EMOJI[f.status]} {f.status.value} | {escape(f.check_id)} | {f.severity.value} | {escape(f.policy)} "
        f"| {escape(f.message)} |"
        for f in attention
    ]
    plan = fix_plan(attention)
    lines += ["", "### Details", ""]
    for finding in attention:
        lines += _details(finding, plan)
    if plan.steps:
        lines += [
            "### Fix it",
            "",
            "Run these steps in this order (PowerShell; review before running; exaudit never runs them).",
            "",
        ]
        for step in plan.steps:
            marker = " \u2014 **not Exchange: ActiveDirectory module**" if step.non_exchange else ""
            lines += [f"**Step {step.number}** fixes {escape(', '.join(step.fixes))}{marker}", ""]
            lines += [fenced(step.commands, "powershell"), ""]
        lines += [f"**Then re-check:** {escape(RECHECK)}", ""]
    return "\n".join(lines)
