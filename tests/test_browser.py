"""`symgrad serve` in a real browser: Debian's headless Chromium, driven by Playwright with
the system browser (no browser download). Types a correct and a wrong LaTeX answer and
reads the rendered verdicts. SYMGRAD_WRITE_SCREENSHOT=1 writes docs/serve.png (the README's)."""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from test_serve import CORRECT_LATEX, start_server

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_TOOLS = os.environ.get("SYMGRAD_REQUIRE_TOOLS") == "1"   # set by .ci/run: never skip there
CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")
WRONG_LATEX = r"(y_{\mathrm{pred}} - y) W^{2}"   # dL/dh1 of pset3 without the factor 2


def _chromium():
    for name in CANDIDATES:
        found = shutil.which(name) if "/" not in name else (name if os.access(name, os.X_OK) else None)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    missing = [what for what, ok in (("chromium (apt-get install chromium)", _chromium()),
                                     ("playwright (pip install playwright)", importlib.util.find_spec("playwright")))
               if not ok]
    if missing:
        if REQUIRE_TOOLS:
            pytest.fail("the browser test needs " + " and ".join(missing))
        pytest.skip("needs " + " and ".join(missing))
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser):
    proc, port = start_server("--workers", "2")
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(req.url))
    page.goto(f"http://127.0.0.1:{port}/?spec=pset3")
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    yield page
    assert not errors, errors    # no script error, nothing the page asked for missing
    page.close()
    proc.terminate()
    proc.wait(10)


def _answer(page, wrt: str, text: str):
    box = page.locator(f".question[data-wrt='{wrt}']")
    box.locator("textarea").fill(text)
    box.locator(".preview .katex").wait_for(timeout=5000)        # the live preview, typeset
    box.locator("button.check").click()
    verdict = box.locator(".verdict")
    page.wait_for_function("el => el.dataset.verdict && el.dataset.verdict !== 'pending'",
                           arg=verdict.element_handle(), timeout=30000)
    return verdict


def test_network_and_questions_are_typeset(page):
    assert page.locator("#network .katex").count() >= 8
    assert page.locator(".question").count() >= 3
    assert page.locator("#spec").input_value() == "pset3"


def test_correct_latex_answer(page):
    verdict = _answer(page, "W2", CORRECT_LATEX)
    assert verdict.get_attribute("data-verdict") == "correct"
    assert verdict.locator(".head strong").inner_text() == "correct"
    assert "proven equal" in verdict.inner_text()
    assert verdict.locator(".read-as .katex").count() == 1


def test_wrong_latex_answer(page, tmp_path):
    verdict = _answer(page, "h1", WRONG_LATEX)
    assert verdict.get_attribute("data-verdict") == "incorrect"
    text = verdict.inner_text()
    assert "missing_factor_2" in text and "counterexample" in text
    assert verdict.locator(".read-as .katex").count() == 1
    page.locator(".question[data-wrt='W2']").scroll_into_view_if_needed()
    target = ROOT / "docs" / "serve.png" if os.environ.get("SYMGRAD_WRITE_SCREENSHOT") == "1" else tmp_path / "serve.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10000


def test_expression_language_preview(page):
    box = page.locator(".question[data-wrt='W0']")
    box.locator("textarea").fill("2 * (y_predicted - y) * h1")
    box.locator(".preview .katex").wait_for(timeout=5000)
    assert "reads as" in box.locator(".preview").inner_text()


def test_parse_failure_shows_the_column(page):
    box = page.locator(".question[data-wrt='W1']")
    box.locator("select.language").select_option("latex")
    box.locator("textarea").fill(r"2 \frac{y}{")
    box.locator("button.check").click()
    page.wait_for_function("el => el.dataset.verdict && el.dataset.verdict !== 'pending'",
                           arg=box.locator(".verdict").element_handle(), timeout=30000)
    assert box.locator(".verdict").get_attribute("data-verdict") == "unusable"
    assert "^" in box.locator(".parse-error").inner_text()
