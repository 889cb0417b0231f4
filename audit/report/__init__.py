"""Reporters: each format renders the same AuditResult to a string; none opens a file or the network.

One module per format, picked through :class:`Format`::

    html      one self-contained HTML file (Jinja2 template in audit/templates, strict CSP, no fetch)
    junit     JUnit XML: a suite per policy, a case per check (FAIL/ERROR/SKIP -> failure/error/skipped)
    json      the documented exaudit report document (schemaVersion 1), every evidence line kept
    sarif     SARIF 2.1.0 with results pointing at the policy file line
    markdown  a CI job summary
    console   console_summary(): a few lines for stderr
"""

from __future__ import annotations

from audit.findings import AuditResult
from audit.report import html, json, junit, markdown, sarif
from audit.report.console import console_summary
from audit.report.interface import Format, Renderer

RENDERERS: dict[Format, Renderer] = {
    Format.HTML: html.render,
    Format.JUNIT: junit.render,
    Format.JSON: json.render,
    Format.SARIF: sarif.render,
    Format.MARKDOWN: markdown.render,
}

FILE_NAMES: dict[Format, str] = {
    Format.HTML: "report.html",
    Format.JUNIT: "junit.xml",
    Format.JSON: "report.json",
    Format.SARIF: "report.sarif",
    Format.MARKDOWN: "summary.md",
}


def render(fmt: Format, result: AuditResult) -> str:
    """Render ``result`` in format ``fmt``."""
    return RENDERERS[Format(fmt)](result)


__all__ = ["FILE_NAMES", "RENDERERS", "Format", "console_summary", "render"]
