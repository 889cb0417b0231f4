"""The check catalogue as a Markdown page (docs/checks.md), generated from the registry so it cannot drift."""

from __future__ import annotations

from audit.evaluate.checks import CHECKS
from audit.evaluate.rules import RULES

# What the checks that read no cmdlet output decide from.
_OTHER_INPUTS = {
    "EXA000": "the policy's waivers",
    "EXA050": "the recorded probes (EWS impersonation; Microsoft Graph for an app)",
    "EXA051": "the recorded probes (EWS impersonation; Microsoft Graph for an app)",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def catalogue_markdown() -> str:
    """docs/checks.md: a summary table, then one section per check with rationale, remediation and sources."""
    lines = [
        "# Check catalogue",
        "",
        "Generated from `audit/evaluate/checks.py` by `python -m audit.evaluate.catalogue > docs/checks.md`;",
        "a test keeps this page and the registry in step. Each finding in a report carries the check's id, title,",
        "severity, rationale and documentation link, and the exact PowerShell for the drift it observed (the",
        "remediation below is the general form).",
        "",
        "| id | severity | title | reads |",
        "|---|---|---|---|",
    ]
    for spec in CHECKS.values():
        reads = ", ".join(f"`{n}`" for n in spec.needs) or _OTHER_INPUTS.get(spec.id, "the policy")
        lines.append(f"| [{spec.id}](#{spec.id.lower()}) | {spec.severity.value} | {_cell(spec.title)} | {reads} |")
    for spec in CHECKS.values():
        lines += [
            "",
            f"## {spec.id}",
            "",
            f"**{spec.title}** (default severity: {spec.severity.value})",
            "",
            spec.rationale,
            "",
        ]
        if spec.needs:
            lines += [
                "Reads: " + ", ".join(f"`{n}`" for n in spec.needs) + ". When one of them failed during collection,",
                "the check is ERROR (it never judges partial data).",
                "",
            ]
        if spec.remediation:
            lines += ["Remediation:", "", "```powershell", spec.remediation.rstrip(), "```", ""]
        if spec.doc_url:
            lines.append(f"Source: <{spec.doc_url}>")
        else:
            lines.append("Source: exaudit's own rule (a waiver is a promise with a date).")
    lines += _rules_section()
    return "\n".join(lines) + "\n"


def _rules_section() -> list[str]:
    """Exchange's access rules (audit.evaluate.rules): what Exchange does, its source, the checks that report it."""
    lines = [
        "",
        "## Exchange's access rules",
        "",
        "What Exchange does that decides which mailboxes the integration reaches, where Microsoft says so, and which",
        "checks report a tenant that breaks or relies on it. Generated from `audit/evaluate/rules.py`.",
        "",
        "| rule | reported by |",
        "|---|---|",
    ]
    lines += [f"| {_cell(rule.name)} | {_check_links(rule.checks)} |" for rule in RULES]
    for rule in RULES:
        lines += ["", f"### {rule.name}", "", rule.exchange, "", f"Reported by {_check_links(rule.checks)}.", ""]
        lines += ["Sources:", "", *(f"- <{url}>" for url in rule.sources)]
    return lines


def _check_links(checks: tuple[str, ...]) -> str:
    return ", ".join(f"[{c}](#{c.lower()})" for c in checks)


if __name__ == "__main__":
    print(catalogue_markdown(), end="")
