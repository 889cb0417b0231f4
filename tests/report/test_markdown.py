"""The Markdown job summary: headline, tables, escaping, capped evidence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from audit.findings import AuditResult, Status
from audit.report import Format, render
from audit.report.markdown import escape, fenced


def test_headline_counts_and_attention_table(sample_result: AuditResult) -> None:
    text = render(Format.MARKDOWN, sample_result)
    lines = text.splitlines()
    assert lines[0] == "## \u26a0\ufe0f exaudit: UNKNOWN (fail closed)"
    assert "| \u274c FAIL | 4 |" in lines
    assert "| \u2705 PASS | 5 |" in lines
    rows = [line for line in lines if line.startswith("| \u274c FAIL | EXA")]
    assert [row.split(" | ")[1] for row in rows] == ["EXA012", "EXA033", "EXA032", "EXA035"]
    assert text.count("<details>") == text.count("</details>") == 7  # every non-PASS finding
    assert "```powershell\nSet-ManagementRoleAssignment" in text


def test_every_table_row_has_five_cells(sample_result: AuditResult) -> None:
    for line in render(Format.MARKDOWN, sample_result).splitlines():
        if line.startswith(("| \u274c", "| \u26a0", "| \u23ed")) and "EXA" in line:
            cells = line.replace("\\|", "").strip("|").split("|")
            assert len(cells) == 5, line


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("a | b", "a \\| b"),
        ("`code`", "\\`code\\`"),
        ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
        ("**bold** _it_ ~~s~~", "\\*\\*bold\\*\\* \\_it\\_ \\~\\~s\\~\\~"),
        ("# heading", "\\# heading"),
        ("1. item", "1\\. item"),
        ("- item", "\\- item"),
        ("line\nbreak", "line break"),
        ('a & b "q"', "a &amp; b &quot;q&quot;"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw, line_start=True) == escaped


def test_list_markers_are_only_escaped_at_a_line_start() -> None:
    assert escape("0.1.0") == "0.1.0"
    assert escape("0.1.0", line_start=True) == "0\\.1.0"


def test_fences_outlast_backticks_in_content() -> None:
    block = fenced("before\n````\nafter", "text")
    assert block.startswith("`````text\n")
    assert block.endswith("\n`````")


def test_hostile_names_never_reach_markdown_as_html(sample_result: AuditResult) -> None:
    text = render(Format.MARKDOWN, sample_result)
    outside_fences = []
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if not in_fence:
            outside_fences.append(line)
    prose = "\n".join(outside_fences)
    assert "<img" not in prose
    assert "&lt;img src=x onerror=alert(1)&gt;" in prose


def test_long_evidence_is_capped(sample_result: AuditResult) -> None:
    members = tuple(f"unexpected: user{n:04d}@contoso.com" for n in range(2000))
    finding = replace(sample_result.findings[1], evidence=members)
    text = render(Format.MARKDOWN, AuditResult(info=sample_result.info, findings=(finding,)))
    assert "user0019@contoso.com" in text
    assert "user0020@contoso.com" not in text
    assert "and 1,980 more" in text


def test_all_passed(sample_result: AuditResult) -> None:
    passed = tuple(f for f in sample_result.findings if f.status is Status.PASS)
    text = render(Format.MARKDOWN, AuditResult(info=sample_result.info, findings=passed))
    assert text.startswith("## \u2705 exaudit: COMPLIANT")
    assert "Every check passed." in text
    assert "<details>" not in text


def test_a_commonmark_renderer_sees_tables_details_and_no_injected_html(sample_result: AuditResult) -> None:
    # markdown-it-py (CommonMark + GFM tables), with raw HTML on as GitHub allows <details>: a real consumer.
    from markdown_it import MarkdownIt

    hostile = replace(sample_result.findings[8], message="a | b **bold** `x` [l](javascript:alert(1)) <img src=x>")
    findings = (*sample_result.findings[:8], hostile, *sample_result.findings[9:])
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    html = md.render(render(Format.MARKDOWN, AuditResult(info=sample_result.info, findings=findings)))
    assert html.count("<table>") == 2
    attention = html.split("<table>")[2]
    rows = attention.split("<tr>")[2:]
    assert len(rows) == 7  # the non-PASS findings
    assert all(row.count("<td") == 5 for row in rows)
    assert html.count("<details>") == 7
    assert "<img" not in html
    assert "<strong>bold</strong>" not in html
    assert "<code>x</code>" not in html
    assert 'href="javascript' not in html
    assert "a | b **bold** `x` [l](javascript:alert(1)) &lt;img src=x&gt;</td>" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<code class="language-powershell">Set-ManagementRoleAssignment' in html
