"""The Jenkins HTML variant in real headless Chromium, served under Jenkins' default Content-Security-Policy.

Jenkins serves archived HTML (publishHTML) with ``sandbox; default-src 'none'; img-src 'self'; style-src 'self';``
(https://www.jenkins.io/doc/book/security/configuring-content-security-policy/): no inline style, no script at
all. The pages are served from a made-up origin through Playwright's router, so nothing touches the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from audit.findings import AuditResult, Status
from audit.report import Format, render
from audit.report.html import render_external
from tests.gates import require_tool
from tests.report.test_browser import CHROMIUM

# Like tests/test_browser.py: a missing tool skips on a developer's machine and fails under CI=true.
try:
    import playwright.sync_api as playwright_api
except ImportError:
    require_tool(False, "needs the playwright package (dev extra)", module_level=True)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-sync"]
JENKINS_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'self';"
BASE = "http://jenkins.invalid/job/exaudit/1/exaudit/"
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript"}

pytestmark = [pytest.mark.browser]


@dataclass
class Served:
    page: playwright_api.Page
    served: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # requests for anything but the report's own files
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    require_tool(CHROMIUM.exists(), f"needs Debian chromium at {CHROMIUM}")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def _serve(browser: playwright_api.Browser, files: dict[str, str], csp: str = JENKINS_CSP) -> Served:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    served = Served(page=page)

    def route(r: playwright_api.Route) -> None:
        url = r.request.url
        name = url.removeprefix(BASE)
        if url.startswith(BASE) and name in files:
            served.served.append(name)
            suffix = name[name.rfind(".") :]
            r.fulfill(
                status=200, headers={"Content-Type": TYPES[suffix], "Content-Security-Policy": csp}, body=files[name]
            )
        else:
            served.refused.append(url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: msg.type == "error" and served.errors.append(msg.text))
    page.on("pageerror", lambda exc: served.errors.append(str(exc)))
    page.goto(BASE + "report.html")
    page.wait_for_load_state("load")
    return served


@pytest.fixture
def jenkins(browser: playwright_api.Browser, sample_result: AuditResult) -> Iterator[Served]:
    served = _serve(browser, render_external(sample_result))
    yield served
    served.page.close()


def test_the_variant_has_no_inline_style_or_script(sample_result: AuditResult) -> None:
    files = render_external(sample_result)
    assert set(files) == {"report.html", "report.css", "report.js"}
    page = files["report.html"]
    assert '<link rel="stylesheet" href="report.css">' in page
    assert '<script src="report.js"></script>' in page
    assert "<style" not in page
    assert " style=" not in page
    assert "<script>" not in page
    assert " on" + "click=" not in page


def test_styled_under_the_jenkins_csp(jenkins: Served) -> None:
    page = jenkins.page
    background = page.evaluate("getComputedStyle(document.querySelector('.masthead')).backgroundColor")
    assert background == "rgb(16, 33, 63)"  # the linked stylesheet applied
    assert "report.css" in jenkins.served
    assert jenkins.refused == []
    assert not [e for e in jenkins.errors if "style" in e.lower()]  # no inline style was refused


def test_readable_with_scripts_blocked(jenkins: Served, sample_result: AuditResult) -> None:
    page = jenkins.page
    assert not page.evaluate("document.documentElement.classList.contains('js')")  # the sandbox blocked the script
    findings = page.locator("details.finding")
    assert findings.count() == len(sample_result.findings) == 12
    assert page.locator("details.finding:visible").count() == 12  # nothing hidden
    not_passing = sum(1 for f in sample_result.findings if f.status is not Status.PASS)
    assert page.locator("details.finding[open]").count() == not_passing  # open without a script
    assert page.locator("#finding-2 .message").is_visible()
    assert page.locator("#finding-2 .fix-ref").is_visible()  # the finding points into the plan
    assert page.locator("#fix-1 .remediation").is_visible()  # where the commands are, once
    # No dead controls: the filters and the expand buttons need the script and are not shown without it.
    assert not page.locator("#filters fieldset").first.is_visible()
    assert not page.locator("#expand-all").is_visible()
    # A closed finding opens natively (details/summary), no script needed.
    anchor = page.locator("details.finding:not([open])").first.get_attribute("id")
    closed = page.locator(f"details#{anchor}")
    assert not closed.evaluate("d => d.open")
    closed.locator("summary").click()
    assert closed.evaluate("d => d.open")
    assert closed.locator(".finding-body").is_visible()


def test_the_self_contained_report_is_unstyled_under_the_jenkins_csp(
    browser: playwright_api.Browser, sample_result: AuditResult
) -> None:
    """Why the variant exists: Jenkins' CSP refuses the inline stylesheet of the default report."""
    served = _serve(browser, {"report.html": render(Format.HTML, sample_result)})
    try:
        background = served.page.evaluate("getComputedStyle(document.querySelector('.masthead')).backgroundColor")
        assert background != "rgb(16, 33, 63)"
    finally:
        served.page.close()


def test_filters_work_where_scripts_are_allowed(browser: playwright_api.Browser, sample_result: AuditResult) -> None:
    """An administrator who relaxed Jenkins' CSP gets the filters: the linked script is the same one."""
    served = _serve(
        browser, render_external(sample_result), csp="default-src 'none'; style-src 'self'; script-src 'self'"
    )
    try:
        page = served.page
        assert page.evaluate("document.documentElement.classList.contains('js')")
        page.locator("label.chip", has_text="Pass").click()
        assert page.locator("details.finding:visible").count() == 7
        assert served.errors == []
    finally:
        served.page.close()
