"""The HTML report in real headless Chromium: filters work, nothing is fetched, hostile names stay text."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from audit.findings import AuditResult
from audit.report import Format, render
from tests.gates import require_tool

try:
    import playwright.sync_api as playwright_api
except ImportError:
    require_tool(False, "needs the playwright package (dev extra)", module_level=True)

# EXAUDIT_TEST_CHROMIUM points elsewhere (tests/test_gates.py hides the browser to prove CI fails).
CHROMIUM = Path(os.environ.get("EXAUDIT_TEST_CHROMIUM") or "/usr/bin/chromium")
XSS_NAME = "<img src=x onerror=alert(1)>"  # the recipient name conftest.py plants in EXA033
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = [pytest.mark.browser]


@dataclass
class Opened:
    """A report opened in a page, with everything the page tried to do."""

    page: playwright_api.Page
    url: str
    requests: list[str] = field(default_factory=list)  # reached the route handler: would have gone on the wire
    attempts: list[str] = field(default_factory=list)  # any request event other than the document itself
    blocked: dict[str, str] = field(default_factory=dict)  # url -> failure text, e.g. "csp"
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    # Skipped without the browser on a developer's machine; in CI a missing browser fails (tests/gates.py).
    require_tool(CHROMIUM.exists(), f"needs Debian chromium at {CHROMIUM}")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def _open(browser: playwright_api.Browser, html: str, path: Path) -> Opened:
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    opened = Opened(page=page, url=path.as_uri())

    def route(r: playwright_api.Route) -> None:
        if r.request.url == opened.url:
            r.continue_()
        else:
            opened.requests.append(r.request.url)
            r.abort()

    def dialog(d: playwright_api.Dialog) -> None:
        opened.dialogs.append(d.message)
        d.dismiss()

    page.route("**/*", route)
    page.on("request", lambda req: req.url != opened.url and opened.attempts.append(req.url))
    page.on("requestfailed", lambda req: opened.blocked.__setitem__(req.url, req.failure or ""))
    page.on("dialog", dialog)
    page.on("pageerror", lambda exc: opened.errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and opened.errors.append(msg.text))
    page.goto(opened.url)
    page.wait_for_load_state("load")
    return opened


@pytest.fixture
def report(browser: playwright_api.Browser, sample_result: AuditResult, tmp_path: Path) -> Iterator[Opened]:
    opened = _open(browser, render(Format.HTML, sample_result), tmp_path / "report.html")
    yield opened
    opened.page.close()


def _visible(page: playwright_api.Page) -> int:
    return page.locator("details.finding:visible").count()


def _shown(page: playwright_api.Page) -> str:
    return page.locator("#shown-count").inner_text()


def test_styles_and_script_run_under_the_csp(report: Opened) -> None:
    page = report.page
    assert page.evaluate("document.documentElement.classList.contains('js')")  # the hashed script ran
    background = page.evaluate("getComputedStyle(document.querySelector('.masthead')).backgroundColor")
    assert background == "rgb(16, 33, 63)"  # the hashed stylesheet applied
    assert report.errors == []  # no CSP violation, no script error
    assert report.requests == []
    assert report.attempts == []


def test_status_filter_hides_findings_and_updates_the_count(report: Opened) -> None:
    page = report.page
    assert _visible(page) == 12
    assert _shown(page) == "12"
    page.locator("label.chip", has_text="Pass").click()
    assert _visible(page) == 7
    assert _shown(page) == "7"
    assert page.locator("details.finding[data-status=PASS]:visible").count() == 0
    page.locator("label.chip", has_text="Skipped").click()
    assert _visible(page) == 5
    page.locator("label.chip", has_text="Pass").click()
    assert _visible(page) == 10
    assert _shown(page) == "10"


def test_severity_filter_and_empty_groups(report: Opened) -> None:
    page = report.page
    for severity in ("critical", "high", "medium", "info"):
        page.locator(f"#filters input[name=severity][value={severity}]").uncheck()
    for status in ("ERROR", "SKIP", "PASS"):
        page.locator(f"#filters input[name=status][value={status}]").uncheck()
    assert _visible(page) == 1  # EXA035, a low FAIL in the planner policy
    assert page.locator("details.finding:visible code.check-id").inner_text() == "EXA035"
    policies = page.locator("section.policy:visible .policy-name").all_inner_texts()
    assert policies == ["planner-room-access"]
    page.locator("#filters input[name=severity][value=low]").uncheck()
    assert _visible(page) == 0
    assert _shown(page) == "0"
    assert page.locator("#no-match").is_visible()


def test_expand_and_collapse(report: Opened) -> None:
    page = report.page
    assert page.locator("details.finding[open]").count() == 7  # every non-PASS finding starts open
    page.locator("#expand-all").click()
    assert page.locator("details.finding[open]").count() == 12
    page.locator("#collapse-all").click()
    assert page.locator("details.finding[open]").count() == 0


def test_hostile_recipient_name_renders_as_text(report: Opened) -> None:
    page = report.page
    assert page.evaluate("document.querySelector('img[src=x]')") is None
    assert page.locator("img").count() == 0
    message = page.locator("#finding-2 .message")
    assert message.is_visible()
    assert XSS_NAME in message.inner_text()
    assert page.locator("#finding-2 .evidence li").first.inner_text().startswith(f"unexpected: {XSS_NAME}")
    assert report.dialogs == []
    assert report.requests == []
    assert report.attempts == []


def test_nothing_is_fetched_even_if_escaping_failed(
    browser: playwright_api.Browser, sample_result: AuditResult, tmp_path: Path
) -> None:
    # Defence in depth: plant raw markup as a broken escaper would, and the CSP still refuses every fetch and script.
    planted = (
        '<img src="http://198.51.100.7/pixel.png" onerror="alert(1)">'
        '<link rel="stylesheet" href="https://cdn.example.invalid/x.css">'
        "<script>alert(2)</script>"
        '<script src="https://cdn.example.invalid/x.js"></script>'
    )
    html = render(Format.HTML, sample_result).replace("<main", planted + "<main", 1)
    opened = _open(browser, html, tmp_path / "planted.html")
    try:
        assert opened.dialogs == []
        assert opened.requests == []  # nothing reached the network layer
        assert opened.blocked == {
            "http://198.51.100.7/pixel.png": "csp",
            "https://cdn.example.invalid/x.css": "csp",
            "https://cdn.example.invalid/x.js": "csp",
        }
        assert sum("Content Security Policy" in e for e in opened.errors) >= 5
    finally:
        opened.page.close()


def test_print_layout_hides_the_filters(report: Opened) -> None:
    page = report.page
    page.emulate_media(media="print")
    assert not page.locator("#filters").is_visible()
    page.emulate_media(media="screen")
    assert page.locator("#filters").is_visible()


def test_screenshot(report: Opened, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    report.page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.requests == []
