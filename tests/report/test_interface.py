"""The shared interface: every Format is covered, renderers return str and never touch files."""

from __future__ import annotations

import builtins
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from audit.findings import AuditResult, Finding, RunInfo, Severity, Status
from audit.report import FILE_NAMES, RENDERERS, Format, console_summary, render
from audit.report.interface import ordered, strip_control


def test_every_format_has_a_renderer_and_a_file_name() -> None:
    assert set(RENDERERS) == set(Format)
    assert set(FILE_NAMES) == set(Format)
    assert len(set(FILE_NAMES.values())) == len(Format)


def test_file_names_are_the_agreed_ones() -> None:
    assert FILE_NAMES == {
        Format.HTML: "report.html",
        Format.JUNIT: "junit.xml",
        Format.JSON: "report.json",
        Format.SARIF: "report.sarif",
        Format.MARKDOWN: "summary.md",
    }


@pytest.mark.parametrize("fmt", list(Format), ids=str)
def test_render_returns_text_for_every_format(fmt: Format, sample_result: AuditResult) -> None:
    text = render(fmt, sample_result)
    assert isinstance(text, str)
    assert text


def test_format_values_select_the_renderer(sample_result: AuditResult) -> None:
    assert render(Format("sarif"), sample_result) == render(Format.SARIF, sample_result)


def test_renderers_never_open_a_file(sample_result: AuditResult, monkeypatch: pytest.MonkeyPatch) -> None:
    render(Format.HTML, sample_result)  # loads the packaged template once, as a real run does

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a renderer opened a file: {args!r}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    monkeypatch.setattr(Path, "open", refuse)
    for fmt in Format:
        render(fmt, sample_result)
    console_summary(sample_result, color=True)


def test_order_is_worst_first_failing_by_severity_then_skip_then_pass(sample_result: AuditResult) -> None:
    keys = [(f.status, f.severity, f.check_id) for f in ordered(sample_result.findings)]
    assert keys[0] == (Status.FAIL, Severity.CRITICAL, "EXA012")
    groups = [0 if s in (Status.FAIL, Status.ERROR) else 1 if s is Status.SKIP else 2 for s, _, _ in keys]
    assert groups == sorted(groups)
    failing = [k for k in keys if k[0] in (Status.FAIL, Status.ERROR)]
    assert [k[1].rank for k in failing] == sorted(k[1].rank for k in failing)  # a critical ERROR before a high FAIL
    same = [(Finding("EXA002", "t", s, Severity.HIGH, "m", "p")) for s in (Status.ERROR, Status.FAIL)]
    assert [f.status for f in ordered(same)] == [Status.FAIL, Status.ERROR]  # equal severity: the known violation


def test_strip_control_neutralises_terminal_escapes() -> None:
    assert strip_control("a\x1b[31mred\x00\tb\n") == "a\ufffd[31mred\ufffd\tb\n"


def _empty() -> AuditResult:
    info = RunInfo(tool_version="0.1.0", generated_at="2026-11-26T10:15:00Z", policies=(), target="lab")
    return AuditResult(info=info, findings=())


@pytest.mark.parametrize("fmt", list(Format), ids=str)
def test_an_empty_result_renders(fmt: Format) -> None:
    assert render(fmt, _empty())


def test_console_summary_says_the_verdict_and_counts(sample_result: AuditResult) -> None:
    text = console_summary(sample_result)
    first = text.splitlines()[0]
    assert first.startswith("exaudit: UNKNOWN (fail closed) (exit code 3)")
    assert "4 FAIL, 1 ERROR, 2 SKIP, 5 PASS" in first
    assert "\x1b[" not in text
    assert "\x1b[1;31m" in console_summary(sample_result, color=True)


def test_console_summary_caps_the_list_and_escapes_control_characters(sample_result: AuditResult) -> None:
    base = sample_result.findings[1]
    hostile = tuple(replace(base, check_id=f"EXA{n:03d}", message=f"bad\x1b]0;owned\x07 {n}") for n in range(100, 130))
    text = console_summary(AuditResult(info=sample_result.info, findings=hostile))
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "... and 20 more; see the reports" in text
    assert len(text.splitlines()) == 12
