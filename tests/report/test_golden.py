"""Golden files: every format rendered from the fixed sample, compared byte for byte.

Regenerate after an intended change with ``EXAUDIT_REGEN_GOLDEN=1 pytest tests/report`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit.findings import AuditResult
from audit.report import FILE_NAMES, Format, console_summary, render

GOLDEN = Path(__file__).parent.parent / "data" / "report" / "golden"
REGEN = os.environ.get("EXAUDIT_REGEN_GOLDEN") == "1"


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file; regenerate with EXAUDIT_REGEN_GOLDEN=1"


@pytest.mark.parametrize("fmt", list(Format), ids=str)
def test_format_matches_golden(fmt: Format, sample_result: AuditResult) -> None:
    _compare(FILE_NAMES[fmt], render(fmt, sample_result))


@pytest.mark.parametrize("color", [False, True], ids=["plain", "color"])
def test_console_summary_matches_golden(color: bool, sample_result: AuditResult) -> None:
    _compare(f"console-{'color' if color else 'plain'}.txt", console_summary(sample_result, color=color))


def test_rendering_is_deterministic(sample_result: AuditResult) -> None:
    for fmt in Format:
        assert render(fmt, sample_result) == render(fmt, sample_result)
