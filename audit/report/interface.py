"""What every reporter shares: the Format enum, the renderer signature and the one order findings are shown in.

A renderer is a function ``render(result) -> str``: it never opens a file, never touches the network, and escapes
everything it prints for its own format (findings quote names an attacker can choose, such as a recipient's
display name).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable

from audit.findings import AuditResult, Finding, Status

Renderer = Callable[[AuditResult], str]

# The most actionable first: a known violation, then a check that could not tell, then what was waived or not
# applicable, then what passed.
STATUS_ORDER: tuple[Status, ...] = (Status.FAIL, Status.ERROR, Status.SKIP, Status.PASS)

# Evidence can quote thousands of lines (every unexpected group member); human-facing formats show this many per
# finding and say how many more there are. JSON keeps them all.
EVIDENCE_LIMIT = 20

# C0 (but tab and line breaks), DEL, C1, and the bidi controls that reorder what a reviewer reads (CVE-2021-42574).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Format(enum.StrEnum):
    """The report formats; each has one module in this package."""

    HTML = "html"
    JUNIT = "junit"
    JSON = "json"
    SARIF = "sarif"
    MARKDOWN = "markdown"


def sort_key(finding: Finding) -> tuple[int, int, int, str, str]:
    """Worst first: FAIL and ERROR together by severity (a critical ERROR before a medium FAIL), then SKIP, PASS.

    At equal severity a FAIL (a known violation) comes before an ERROR (could not tell); then check id, policy.
    """
    status = STATUS_ORDER.index(finding.status)
    failing = status <= STATUS_ORDER.index(Status.ERROR)
    return (0 if failing else status, finding.severity.rank, status, finding.check_id, finding.policy)


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """The findings in the order every report shows them."""
    return sorted(findings, key=sort_key)


def shown_evidence(finding: Finding, limit: int = EVIDENCE_LIMIT) -> tuple[tuple[str, ...], int]:
    """The evidence lines to show and how many were left out."""
    lines = finding.evidence[:limit]
    return lines, len(finding.evidence) - len(lines)


def strip_control(text: str) -> str:
    """Replace control characters (ANSI escapes, NUL) with U+FFFD so they cannot drive a terminal or break XML."""
    return _CONTROL.sub("\ufffd", text)


def one_line(text: str) -> str:
    """Collapse a message to one line of text without control characters."""
    return strip_control(" ".join(text.split()))
