"""Golden files: every format rendered from the fixed sample, compared byte for byte.

Regenerate after an intended change with ``EXAUDIT_REGEN_GOLDEN=1 pytest tests/report`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.findings import AuditResult
from audit.report import FILE_NAMES, Format, console_summary, render
from tests.gates import check_golden

GOLDEN = Path(__file__).parent.parent / "data" / "report" / "golden"


def _compare(name: str, actual: str) -> None:
    check_golden(GOLDEN / name, actual, "regenerate with EXAUDIT_REGEN_GOLDEN=1 (outside CI) and review the diff")


@pytest.mark.parametrize("fmt", list(Format), ids=str)
def test_format_matches_golden(fmt: Format, sample_result: AuditResult) -> None:
    _compare(FILE_NAMES[fmt], render(fmt, sample_result))


@pytest.mark.parametrize("color", [False, True], ids=["plain", "color"])
def test_console_summary_matches_golden(color: bool, sample_result: AuditResult) -> None:
    _compare(f"console-{'color' if color else 'plain'}.txt", console_summary(sample_result, color=color))


def test_rendering_is_deterministic(sample_result: AuditResult) -> None:
    for fmt in Format:
        assert render(fmt, sample_result) == render(fmt, sample_result)
