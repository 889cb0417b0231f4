"""docs/checks.md (audit.evaluate.catalogue) for registry entries the shipped registry does not have yet.

Killed mutants of issue 14's mutation run: a title or rule name holding a pipe or a line break stays one table
cell; a check that reads no cmdlet and is not one of the three with other inputs says it reads "the policy"; a
remediation's trailing line breaks are dropped, its leading indentation kept. tests/evaluate/test_catalogue.py
checks the page of the shipped registry.
"""

from __future__ import annotations

import dataclasses

import pytest

from audit.evaluate import CHECKS, catalogue
from audit.evaluate.rules import RULES


def _page(monkeypatch: pytest.MonkeyPatch, **changes: object) -> str:
    spec = dataclasses.replace(CHECKS["EXA001"], **changes)  # type: ignore[arg-type]
    monkeypatch.setattr(catalogue, "CHECKS", {"EXA001": spec})
    return catalogue.catalogue_markdown()


def test_a_pipe_or_line_break_in_a_title_stays_in_its_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(monkeypatch, title="Read | write\naccess")
    assert "| [EXA001](#exa001) | high | Read \\| write access | `Get-User` |" in page.splitlines()


def test_a_check_reading_no_cmdlet_reads_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(monkeypatch, needs=())
    row = next(line for line in page.splitlines() if line.startswith("| [EXA001]"))
    assert row.endswith(" | the policy |")
    assert "Reads: " not in page


def test_a_remediation_loses_trailing_blank_lines_not_its_indentation(monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(monkeypatch, remediation="  Set-User -Identity <account>\n\n")
    assert "```powershell\n  Set-User -Identity <account>\n```\n" in page


def test_a_pipe_or_line_break_in_a_rule_name_stays_in_its_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    rule = dataclasses.replace(RULES[0], name="Scopes | roots\nand filters", checks=("EXA020",))
    monkeypatch.setattr(catalogue, "RULES", (rule,))
    page = catalogue.catalogue_markdown()
    assert "| Scopes \\| roots and filters | [EXA020](#exa020) |" in page.splitlines()
