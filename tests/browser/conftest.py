"""Headless Chromium for the browser tests: Debian's ``chromium`` package driven by Playwright's
Python client (no browser download: ``executable_path`` points at the system binary).

Without the binary or the client the tests skip with the reason, except in CI (``CI`` set),
where a missing browser is a failure: .ci/run installs both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
#: Screenshots land here (gitignored), so CI can keep them as artifacts.
OUTPUT_DIR = Path(os.environ.get("TEST_OUTPUT_DIR", Path(__file__).resolve().parents[2] / "test-output"))


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Playwright client is not installed (pip install -e '.[dev]')")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API keeps an event loop in this thread, which makes Django refuse the
    # ORM calls the tests make meanwhile; those calls are synchronous and safe, so say so.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium):
    """A fresh browser context (no cookies of another test) and its page."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "name")`` saves a full-page PNG under test-output/browser/<test>/."""
    directory = OUTPUT_DIR / "browser" / request.node.name
    directory.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
