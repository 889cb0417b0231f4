"""The console summary: a few lines for stderr saying the verdict, the counts and the worst findings."""

from __future__ import annotations

from audit.findings import AuditResult, Status
from audit.report.interface import one_line, ordered

TOP = 10  # findings listed before "and N more"
MESSAGE_WIDTH = 100

_RESET = "\x1b[0m"
_COLORS: dict[Status, str] = {
    Status.FAIL: "\x1b[1;31m",  # bold red
    Status.ERROR: "\x1b[1;35m",  # bold magenta: could not tell, as bad as a failure
    Status.SKIP: "\x1b[33m",  # yellow
    Status.PASS: "\x1b[32m",  # green
}
_VERDICT_COLORS = {0: _COLORS[Status.PASS], 1: _COLORS[Status.FAIL], 3: _COLORS[Status.ERROR]}


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def console_summary(result: AuditResult, *, color: bool = False) -> str:
    """A short summary for stderr; ``color`` adds ANSI colours. Control characters in findings are neutralised."""

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    code = int(result.exit_code)
    counts = ", ".join(f"{result.counts[s]} {s.value}" for s in (Status.FAIL, Status.ERROR, Status.SKIP, Status.PASS))
    headline = paint(f"exaudit: {result.verdict}", _VERDICT_COLORS.get(code, _COLORS[Status.ERROR]))
    lines = [f"{headline} (exit code {code}): {counts}"]
    attention = [f for f in ordered(result.findings) if f.status is not Status.PASS]
    for finding in attention[:TOP]:
        status = paint(f"{finding.status.value:<5}", _COLORS[finding.status])
        lines.append(
            f"  {status} {one_line(finding.check_id)} {finding.severity.value:<8} "
            f"[{_clip(one_line(finding.policy), 40)}] {_clip(one_line(finding.message), MESSAGE_WIDTH)}"
        )
    if len(attention) > TOP:
        lines.append(f"  ... and {len(attention) - TOP:,} more; see the reports")
    return "\n".join(lines) + "\n"
