"""The HTML report: one self-contained file a compliance reviewer can open, filter and print.

Python builds one view model (sorted, grouped by policy, counted, evidence capped); the Jinja2 template
(``audit/templates/report.html.j2``, package data, autoescape on, ``StrictUndefined``) only loops and prints.
The stylesheet and the filter script are inlined from ``report.css`` and ``report.js`` next to the template, and
a Content-Security-Policy ``<meta>`` allows exactly those two by their SHA-256 and nothing else: no request can
leave the page, and injected markup could not run a script even if escaping ever failed.

The Jenkins variant (:func:`render_external`) writes the stylesheet and the script as files beside the page: Jenkins
serves archived HTML under ``sandbox; default-src 'none'; img-src 'self'; style-src 'self';`` (its default
Content-Security-Policy), which refuses inline styles and every script. The linked stylesheet still applies, and
the page is complete without its script: every finding is in the markup, the non-passing ones open, and the
filter controls (the only part that needs the script) stay hidden.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

import jinja2
from markupsafe import Markup

from audit.errors import ReportError
from audit.findings import AuditResult, Finding, Severity, Status, Subject
from audit.report.fixit import RECHECK, Step, fix_plan
from audit.report.interface import STATUS_ORDER, ordered, shown_evidence, sort_key
from audit.report.since import SinceView, since_view

TEMPLATE = "report.html.j2"
STYLESHEET = "report.css"
SCRIPT = "report.js"

STATUS_LABELS: dict[Status, str] = {
    Status.FAIL: "Fail",
    Status.ERROR: "Error",
    Status.SKIP: "Skipped",
    Status.PASS: "Pass",
}
STATUS_HINTS: dict[Status, str] = {
    Status.FAIL: "drift from the policy",
    Status.ERROR: "could not tell: fails closed",
    Status.SKIP: "waived or not applicable",
    Status.PASS: "as the policy says",
}


@dataclass(frozen=True, slots=True)
class CountView:
    """One tile of the summary or one filter checkbox: a value, its label and how many findings carry it."""

    value: str  # the data-* value the filter matches ("FAIL", "high")
    label: str
    hint: str
    count: int


@dataclass(frozen=True, slots=True)
class FindingView:
    """One finding as the template prints it; every field is plain text the template escapes."""

    anchor: str
    check_id: str
    title: str
    status: str
    status_label: str
    severity: str
    policy: str
    message: str
    expected: str
    actual: str
    evidence: tuple[str, ...]
    evidence_more: str  # "and 1,980 more" or ""
    remediation: str
    rationale: str
    doc_url: str  # only http(s) links survive
    location: str  # "policies/callpro.yaml:12:3" or ""
    waived_by: str
    open: bool  # shown expanded on load
    fix_steps: tuple[int, ...] = ()  # the steps of the "Fix it" plan that fix it (then no command is repeated)


@dataclass(frozen=True, slots=True)
class GroupView:
    """The findings of one policy."""

    policy: str
    findings: tuple[FindingView, ...]
    summary: str  # "3 fail, 1 error, 15 pass"


@dataclass(frozen=True, slots=True)
class ReportView:
    """Everything the template prints."""

    verdict: str
    verdict_class: str
    exit_code: int
    total: int
    statuses: tuple[CountView, ...]
    severities: tuple[CountView, ...]
    info: tuple[tuple[str, str, bool], ...]  # label, value, shown in monospace
    policies: tuple[str, ...]
    groups: tuple[GroupView, ...]
    generated_at: str
    tool_version: str
    since: SinceView | None = None  # the drift since --baseline
    subjects: tuple[Subject, ...] = ()  # what each policy audits (the header)
    steps: tuple[Step, ...] = ()  # the "Fix it" plan
    recheck: str = RECHECK


def _safe_url(url: str) -> str:
    return url if url.startswith(("https://", "http://")) else ""


def _finding_view(index: int, finding: Finding, steps: tuple[int, ...] = ()) -> FindingView:
    evidence, more = shown_evidence(finding)
    location = finding.location
    return FindingView(
        anchor=f"finding-{index + 1}",
        check_id=finding.check_id,
        title=finding.title,
        status=finding.status.value,
        status_label=STATUS_LABELS[finding.status],
        severity=finding.severity.value,
        policy=finding.policy,
        message=finding.message,
        expected=finding.expected,
        actual=finding.actual,
        evidence=evidence,
        evidence_more=f"\u2026 and {more:,} more (the JSON report has them all)" if more else "",
        remediation=finding.remediation,
        rationale=finding.rationale,
        doc_url=_safe_url(finding.doc_url),
        location=f"{location.path}:{location.line}:{location.column}" if location is not None else "",
        waived_by=finding.waived_by or "",
        open=finding.status is not Status.PASS,
        fix_steps=steps,
    )


def _summary(findings: list[Finding]) -> str:
    parts = []
    for status in STATUS_ORDER:
        n = sum(1 for f in findings if f.status is status)
        if n:
            parts.append(f"{n} {STATUS_LABELS[status].lower()}")
    return ", ".join(parts)


_VERDICT_CLASSES = {0: "compliant", 1: "noncompliant", 3: "unknown", 4: "unknown"}


def view_model(result: AuditResult) -> ReportView:
    """Sort, group, count and cap the findings into what the template prints."""
    findings = ordered(result.findings)
    plan = fix_plan(findings)
    by_policy: dict[str, list[tuple[Finding, FindingView]]] = {}
    for index, finding in enumerate(findings):
        view = _finding_view(index, finding, plan.steps_for(finding))
        by_policy.setdefault(finding.policy, []).append((finding, view))
    # The policy with the worst finding first (findings are already worst first within each).
    groups = tuple(
        GroupView(
            policy=policy,
            findings=tuple(view for _, view in pairs),
            summary=_summary([finding for finding, _ in pairs]),
        )
        for policy, pairs in sorted(by_policy.items(), key=lambda item: (sort_key(item[1][0][0]), item[0]))
    )
    info = result.info
    facts = (
        ("Target", info.target, False),
        ("Policies", ", ".join(info.policies), False),
        ("Generated", info.generated_at, False),
        ("Collected", info.collected_at, False),
        ("Exchange server", info.server_version, False),
        ("Snapshot checksum (SHA-256, unsigned)", info.snapshot_sha256, True),
        ("exaudit version", info.tool_version, False),
    )
    return ReportView(
        verdict=result.verdict,
        verdict_class=_VERDICT_CLASSES.get(int(result.exit_code), "unknown"),
        exit_code=int(result.exit_code),
        total=len(findings),
        statuses=tuple(CountView(s.value, STATUS_LABELS[s], STATUS_HINTS[s], result.counts[s]) for s in STATUS_ORDER),
        severities=tuple(
            CountView(s.value, s.value.capitalize(), "", sum(1 for f in findings if f.severity is s)) for s in Severity
        ),
        info=tuple(fact for fact in facts if fact[1]),
        policies=info.policies,
        groups=groups,
        generated_at=info.generated_at,
        tool_version=info.tool_version,
        since=since_view(result.drift) if result.drift is not None else None,
        subjects=info.subjects,
        steps=plan.steps,
    )


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@functools.lru_cache(maxsize=1)
def _assets() -> tuple[jinja2.Template, str, str]:
    folder = resources.files("audit") / "templates"
    try:
        source = (folder / TEMPLATE).read_text(encoding="utf-8")
        css = (folder / STYLESHEET).read_text(encoding="utf-8")
        script = (folder / SCRIPT).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"the HTML report template is missing from the installation: {exc}") from exc
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.from_string(source), css, script


# The page's own CSP in the Jenkins variant: its two files from its own folder, nothing else. Jenkins' header CSP
# applies on top (the stricter of both wins), and blocks the script unless an administrator relaxed it.
EXTERNAL_CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'none'; font-src 'none'; connect-src 'none'; "
    "media-src 'none'; object-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'none'"
)


def content_security_policy(css: str, script: str) -> str:
    """The CSP that allows exactly the inline stylesheet and script, by hash, and no fetch of any kind."""
    return (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(script)}; "
        "img-src 'none'; font-src 'none'; connect-src 'none'; media-src 'none'; object-src 'none'; "
        "frame-src 'none'; base-uri 'none'; form-action 'none'"
    )


def render(result: AuditResult) -> str:
    """Render the HTML report."""
    template, css, script = _assets()
    try:
        return template.render(
            view=view_model(result),
            # The two assets are our own package files, inserted verbatim so their hashes match the CSP.
            css=Markup(css),  # noqa: S704
            script=Markup(script),  # noqa: S704
            csp=content_security_policy(css, script),
            external=False,
        )
    except jinja2.TemplateError as exc:
        raise ReportError(f"the HTML report template failed: {exc}") from exc


def render_external(result: AuditResult) -> dict[str, str]:
    """The Jenkins variant: ``report.html`` linking ``report.css`` and ``report.js``; file name -> text."""
    template, css, script = _assets()
    try:
        page = template.render(view=view_model(result), css="", script="", csp=EXTERNAL_CSP, external=True)
    except jinja2.TemplateError as exc:
        raise ReportError(f"the HTML report template failed: {exc}") from exc
    return {"report.html": page, STYLESHEET: css, SCRIPT: script}
