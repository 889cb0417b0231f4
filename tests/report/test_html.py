"""The HTML report without a browser: escaping, the CSP, no external reference, the template's two homes."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import jinja2
import pytest

from audit.findings import AuditResult
from audit.report import Format, render
from audit.report.html import _assets, view_model

ROOT = Path(__file__).resolve().parents[2]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, str] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._current = tag if tag in ("style", "script") else None

    def handle_data(self, data: str) -> None:
        if self._current:
            self.text[self._current] = self.text.get(self._current, "") + data

    def handle_endtag(self, tag: str) -> None:
        self._current = None


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    return collector


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_hostile_text_is_escaped(sample_result: AuditResult) -> None:
    text = render(Format.HTML, sample_result)
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "[link](javascript:alert(1))" in text  # printed as text, never a link
    assert 'href="javascript' not in text


def test_csp_allows_exactly_the_inline_style_and_script(sample_result: AuditResult) -> None:
    page = _parse(render(Format.HTML, sample_result))
    metas = [attrs for tag, attrs in page.tags if tag == "meta" and attrs.get("http-equiv")]
    assert len(metas) == 1
    csp = metas[0]["content"] or ""
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == _sha(page.text["style"])
    assert directives["script-src"] == _sha(page.text["script"])
    for name in ("img-src", "font-src", "connect-src", "base-uri", "form-action", "object-src"):
        assert directives[name] == "'none'"
    first_tags = [tag for tag, _ in page.tags[:4]]
    assert first_tags[:3] == ["html", "head", "meta"]  # charset, then the CSP before anything it governs
    assert page.tags[3][1].get("http-equiv") == "Content-Security-Policy"


def test_nothing_refers_outside_the_file(sample_result: AuditResult) -> None:
    text = render(Format.HTML, sample_result)
    page = _parse(text)
    assert not [attrs for _, attrs in page.tags if "src" in attrs]
    assert not [tag for tag, _ in page.tags if tag in ("link", "img", "iframe", "object", "embed", "base", "form")]
    hrefs = [attrs["href"] or "" for tag, attrs in page.tags if tag == "a"]
    assert all(h.startswith(("#", "https://learn.microsoft.com/")) for h in hrefs), hrefs
    css = page.text["style"]
    assert "url(" not in css
    assert "@import" not in css
    assert not re.search(r"\b(fetch|XMLHttpRequest|import\(|WebSocket|sendBeacon)\b", page.text["script"])


def test_only_web_links_survive(sample_result: AuditResult) -> None:
    finding = replace(sample_result.findings[3], doc_url="javascript:alert(1)")
    text = render(Format.HTML, AuditResult(info=sample_result.info, findings=(finding,)))
    assert "javascript:alert(1)" not in text


def test_view_model_sorts_groups_and_counts(sample_result: AuditResult) -> None:
    view = view_model(sample_result)
    assert [g.policy for g in view.groups] == ["callpro-calendar-access", "planner-room-access"]
    ids = [(f.status, f.severity, f.check_id) for f in view.groups[0].findings]
    # Worst first: the high-severity ERROR (could not tell) comes before a medium FAIL.
    assert ids[:3] == [("FAIL", "critical", "EXA012"), ("FAIL", "high", "EXA033"), ("ERROR", "high", "EXA050")]
    assert [(c.value, c.count) for c in view.statuses] == [("FAIL", 4), ("ERROR", 1), ("SKIP", 2), ("PASS", 5)]
    assert view.groups[0].summary == "3 fail, 1 error, 2 skipped, 3 pass"
    assert (view.verdict, view.exit_code, view.total) == ("UNKNOWN (fail closed)", 3, 12)


def test_long_evidence_is_capped(sample_result: AuditResult) -> None:
    members = tuple(f"unexpected: user{n:04d}@contoso.com" for n in range(2000))
    finding = replace(sample_result.findings[1], evidence=members)
    text = render(Format.HTML, AuditResult(info=sample_result.info, findings=(finding,)))
    assert "user0019@contoso.com" in text
    assert "user0020@contoso.com" not in text
    assert "and 1,980 more" in text


def test_the_environment_is_strict() -> None:
    template, _, _ = _assets()
    env = template.environment
    assert env.autoescape is True
    assert env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        template.render(view=None, css="", script="", csp="")


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_git_stores_no_symlinks() -> None:
    """Symlinks break Windows checkouts: the templates live once, in the package (audit/templates)."""
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-s"], capture_output=True, text=True, check=True).stdout
    assert out, "git lists no files"
    links = [line.split("\t", 1)[1] for line in out.splitlines() if line.startswith("120000 ")]
    assert links == []
    packaged = resources.files("audit") / "templates"
    for name in ("report.html.j2", "report.css", "report.js"):
        assert (packaged / name).is_file()
