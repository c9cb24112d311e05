"""Real headless Chromium (Debian's `chromium`, installed by `./satchel test` when missing) driven by
Playwright against the live server fixture (tests/fixtures/live.py).

- `browser`: one Chromium per session; `page`: a fresh context (no cookies) and page per test,
  whose JavaScript errors and console errors fail the test unless the test allowed them.
- `screenshot(page, name)`: into docs/screenshots/<name>.png when SATCHEL_SCREENSHOTS=1 (to refresh
  the tracked images on purpose), else into the test's tmp dir, so an ordinary run never rewrites
  tracked files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home, which on a closed network
# only fills logs and slows start-up. Playwright gives every launch a fresh temporary profile.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS_DIR = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
PASSWORD = "correct-horse-42"  # what LiveServer.create_account gives every account
WAIT_MS = 10_000


# Package scope, not session: Playwright's sync API keeps an event loop running in the main thread
# while it lives, and later tests' async_to_sync refuses to run under one.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `./satchel test` installs it when run as root with apt-get")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions of one page; `allow` lets a test expect some (a
    socket refused while the web process restarts, a 400 the form reports next to a field)."""

    seen: list[str] = field(default_factory=list)
    # Chromium asks every site for /favicon.ico; a 404 there is no fault of the page's own code.
    allowed: list[re.Pattern[str]] = field(default_factory=lambda: [re.compile(r"/favicon\.ico\)$")])

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [text for text in self.seen if not any(p.search(text) for p in self.allowed)]


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


def _watched_page(browser: Browser, base_url: str, page_errors: PageErrors) -> Page:
    """A page in a fresh browser context (no cookies) whose errors go into `page_errors`."""
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_errors.seen.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_page_error(error: Error) -> None:
        page_errors.seen.append(f"uncaught: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return page


@pytest.fixture
def page(browser: Browser, satchel_server: Any, page_errors: PageErrors) -> Iterator[Page]:
    """A page in a fresh browser context, with `base_url` set to the live server."""
    page = _watched_page(browser, satchel_server.url, page_errors)
    try:
        yield page
    finally:
        page.context.close()
    unexpected = page_errors.unexpected()
    if unexpected:
        pytest.fail("the page logged errors:\n" + "\n".join(unexpected))


@pytest.fixture
def new_page(
    browser: Browser, satchel_server: Any, page_errors: PageErrors, page: Page
) -> Iterator[Callable[[], Page]]:
    """Another person's browser next to `page` (an officer beside the customer): each call opens
    a fresh context. Their errors fail the test like `page`'s, which checks them after these close."""
    pages: list[Page] = []

    def open_page() -> Page:
        pages.append(_watched_page(browser, satchel_server.url, page_errors))
        return pages[-1]

    try:
        yield open_page
    finally:
        for other in pages:
            other.context.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    def save(page: Page, name: str) -> Path:
        directory = SCREENSHOTS_DIR if os.environ.get("SATCHEL_SCREENSHOTS") == "1" else tmp_path
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Through the login form, as a person would (accounts without 2FA)."""
    page.goto("/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
