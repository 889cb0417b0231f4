"""The HTML report's layout in real headless Chromium: phone and desktop widths, and print.

At 390 px (a phone) and 1280 px, with every card open and the "since last run" section present, no element may
stick out of the viewport and no two pieces of text may overlap. Printing shows every card's body, open or not,
with or without the script. Screenshots are written beside the test's files (and to EXAUDIT_SCREENSHOT_DIR when
set) for a human to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from audit.drift import compare
from audit.findings import AuditResult, Status
from audit.report import Format, render
from audit.report.html import render_external
from tests.gates import require_tool
from tests.report.test_browser import ARGS, CHROMIUM

try:
    import playwright.sync_api as playwright_api
except ImportError:
    require_tool(False, "needs the playwright package (dev extra)", module_level=True)

pytestmark = [pytest.mark.browser]

# Every element's box against the viewport, skipping what a scrolling or clipping ancestor keeps inside itself.
OVERFLOW_JS = """
(width) => {
  const out = [];
  const clipped = (el) => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a);
      if (o.overflowX !== 'visible' && a !== document.body && a !== document.documentElement) return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if ((r.right > width + 0.5 || r.left < -0.5) && !clipped(el)) {
      out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
    }
  }
  const scroll = document.documentElement.scrollWidth;
  if (scroll > width) out.push('document scrollWidth ' + scroll);
  return out;
}
"""

# The line boxes of every visible text node, clipped by scrolling ancestors; any two from different nodes that
# intersect by more than a sliver are an overlap.
OVERLAP_JS = """
() => {
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node, id = 0;
  while ((node = walker.nextNode())) {
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    if (!el || !el.checkVisibility()) continue;
    let clip = {left: -1e9, top: -1e9, right: 1e9, bottom: 1e9};
    for (let a = el; a; a = a.parentElement) {
      const o = getComputedStyle(a);
      if (o.overflowX !== 'visible' || o.overflowY !== 'visible') {
        const c = a.getBoundingClientRect();
        clip = {left: Math.max(clip.left, c.left), top: Math.max(clip.top, c.top),
                right: Math.min(clip.right, c.right), bottom: Math.min(clip.bottom, c.bottom)};
      }
    }
    const range = document.createRange();
    range.selectNodeContents(node);
    id += 1;
    for (const r of range.getClientRects()) {
      const b = {id, text: node.textContent.trim().slice(0, 40), left: Math.max(r.left, clip.left),
                 top: Math.max(r.top, clip.top), right: Math.min(r.right, clip.right),
                 bottom: Math.min(r.bottom, clip.bottom)};
      if (b.right - b.left > 1 && b.bottom - b.top > 1) boxes.push(b);
    }
  }
  const out = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.id === b.id) continue;
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 2 && h > 2) out.push(a.text + ' / ' + b.text);
    }
  }
  return out.slice(0, 20);
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    require_tool(CHROMIUM.exists(), f"needs Debian chromium at {CHROMIUM}")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def with_drift(result: AuditResult) -> AuditResult:
    """The sample with a baseline in which one check was fixed and one newly fails (the since-last-run section)."""
    before = [replace(f, status=Status.PASS) if f.check_id == "EXA012" else f for f in result.findings] + [
        replace(result.findings[1], check_id="EXA099", title="Gone", evidence=())
    ]
    evidence = ["probe canary@contoso.com: denied -> allowed (a canary that must be refused BECAME REACHABLE)"]
    return replace(result, drift=compare(before, result.findings, "report.json of 2026-11-19T10:15:00Z", evidence))


def _shoot(page: playwright_api.Page, tmp_path: Path, name: str) -> None:
    shot = page.screenshot(full_page=True)
    (tmp_path / name).write_bytes(shot)
    folder = os.environ.get("EXAUDIT_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(shot)


@pytest.mark.parametrize("width", [390, 1280])
def test_nothing_overflows_and_no_text_overlaps(
    browser: playwright_api.Browser, sample_result: AuditResult, tmp_path: Path, width: int
) -> None:
    path = tmp_path / "report.html"
    path.write_text(render(Format.HTML, with_drift(sample_result)), encoding="utf-8")
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(path.as_uri())
        page.locator("#expand-all").click()
        assert page.locator("details.finding:not([open])").count() == 0
        assert page.locator("section.since").is_visible()
        assert page.locator("section.fixit").is_visible()
        assert page.locator("section.subjects").is_visible()
        assert page.evaluate(OVERFLOW_JS, width) == []
        assert page.evaluate(OVERLAP_JS) == []
        _shoot(page, tmp_path, f"report-{width}.png")
    finally:
        page.close()


@pytest.mark.parametrize("scripts", [True, False], ids=["script", "no-script"])
def test_print_shows_every_card_body(
    browser: playwright_api.Browser, sample_result: AuditResult, tmp_path: Path, scripts: bool
) -> None:
    if scripts:
        (tmp_path / "report.html").write_text(render(Format.HTML, sample_result), encoding="utf-8")
    else:
        for name, text in render_external(sample_result).items():
            (tmp_path / name).write_text(text, encoding="utf-8")
    context = browser.new_context(java_script_enabled=scripts, viewport={"width": 800, "height": 900})
    page = context.new_page()
    try:
        page.goto((tmp_path / "report.html").as_uri())
        closed = page.locator("details.finding:not([open])").count()
        assert closed > 0  # the passing checks start collapsed
        page.emulate_media(media="print")
        bodies = page.locator("details.finding .finding-body")
        assert bodies.count() == len(sample_result.findings)
        for n in range(bodies.count()):
            assert bodies.nth(n).is_visible(), f"card {n} is not printed"
        assert not page.locator("#filters").is_visible()
        _shoot(page, tmp_path, f"print-{'script' if scripts else 'no-script'}.png")
    finally:
        context.close()
