"""docs/checks.md is generated from the registry and must not drift from it."""

from __future__ import annotations

from pathlib import Path

from audit.evaluate import CHECKS
from audit.evaluate.catalogue import catalogue_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


def test_docs_checks_md_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == catalogue_markdown(), (
        "docs/checks.md is stale: run `python -m audit.evaluate.catalogue > docs/checks.md`"
    )


def test_every_check_has_a_section_with_its_source() -> None:
    text = catalogue_markdown()
    for check_id, spec in CHECKS.items():
        assert f"## {check_id}" in text
        if check_id != "EXA000":  # waivers are exaudit's own concept; every other check cites Microsoft
            assert spec.doc_url.startswith("https://learn.microsoft.com/")
        assert spec.rationale
