"""Browser tests: Playwright driving Debian's Chromium against pytest-django's
live server. Tenants are reached as ``<slug>.localhost:<port>``, which
Chromium resolves to the loopback address without any DNS set-up."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.conftest import TenantWorld, build_world

# The same variable scripts/ensure_chromium.sh checks (see README, "Configuration").
CHROMIUM = os.environ.get("PRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"

# Collects Content-Security-Policy violations reported by the page itself;
# added by Playwright, so the policy does not block it.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an asyncio loop in this thread, which makes
    # Django refuse ORM calls from test code; the live server runs in its own
    # thread and is unaffected.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def worlds(transactional_db, live_server) -> dict[str, TenantWorld]:
    return {"acme": build_world("acme"), "globex": build_world("globex")}


@pytest.fixture
def portal_url(live_server) -> Callable[[TenantWorld, str], str]:
    port = live_server.thread.port

    def url(world: TenantWorld, path: str = "/") -> str:
        return f"http://{world.host}:{port}{path}"

    return url


@pytest.fixture
def browser(worlds) -> Iterator[Browser]:
    # Depends on ``worlds`` so the data exists before the event loop starts
    # and the browser is gone before the database is flushed.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class ConsoleLog:
    """Console messages and uncaught errors of one page."""

    def __init__(self, page: Page):
        self.page = page
        self.messages: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        self.messages.append(f"{message.type}: {message.text}")

    def csp_violations(self) -> list[str]:
        from_console = [m for m in self.messages if "Content Security Policy" in m]
        from_page = self.page.evaluate("window.__cspViolations || []")
        return from_console + from_page


@pytest.fixture
def new_page(browser) -> Callable[[], tuple[Page, ConsoleLog]]:
    """A page in a fresh browser context (no cookies), with its console log."""

    def make() -> tuple[Page, ConsoleLog]:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        return page, ConsoleLog(page)

    return make


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
