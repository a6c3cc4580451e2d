"""Browser tests: Playwright driving Debian's Chromium against pytest-django's
live server. Tenants are reached as ``<slug>.localhost:<port>``, which
Chromium resolves to the loopback address without any DNS set-up."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.conftest import TenantWorld, build_world
from tests.factories import PASSWORD

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


# --- One browser and one set of data for a whole module -----------------------
# For modules of many short page checks (test_accessibility.py, ...): the
# personas are created once and committed, each persona signs in once through
# the login form, and every test opens contexts from that signed-in state.
# The module gets a live server of its own, not pytest-django's
# ``live_server``: a test that uses that one gets ``transactional_db``, whose
# flush after each test would empty the module's data. Such a module marks its
# tests ``django_db`` instead (so the test database is set up; each test runs
# in a transaction it rolls back, the module's committed data stays), and the
# flush runs once here, at the module's end, as ``transactional_db`` does it:
# the next tests find the same empty database.


class SharedSite:
    def __init__(self, world: TenantWorld, port: int, browser: Browser):
        self.world = world
        self.port = port
        self.browser = browser
        # What the module's ``site_data(world)`` returned, if it has one.
        self.data: object = None
        self._states: dict[str, dict] = {}

    def url(self, path: str = "/") -> str:
        return f"http://{self.world.host}:{self.port}{path}"

    def new_page(
        self, role: str | None, width: int = 1366, height: int = 900
    ) -> tuple[Page, ConsoleLog]:
        """A page in a new context signed in as ``role``'s persona (None:
        signed out), ``width`` px wide."""
        state = self.signed_in(role) if role else None
        context = self.browser.new_context(
            viewport={"width": width, "height": height}, storage_state=state
        )
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        return page, ConsoleLog(page)

    def signed_in(self, role: str) -> dict:
        """The cookies of ``role``'s persona after signing in through the
        login form (once per module)."""
        if role not in self._states:
            context = self.browser.new_context()
            page = context.new_page()
            page.goto(self.url("/accounts/login/"))
            page.fill("input[name=login]", self.world[role].user.email)
            page.fill("input[name=password]", PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(self.url("/"))
            self._states[role] = context.storage_state()
            context.close()
        return self._states[role]


@pytest.fixture(scope="module")
def site(request, django_db_setup, django_db_blocker) -> Iterator[SharedSite]:
    assert request.node.get_closest_marker("django_db") or any(
        mark.name == "django_db" for mark in getattr(request.module, "pytestmark", [])
    ), "a module using `site` marks its tests django_db (without transaction=True)"
    server = LiveServer("localhost")
    with django_db_blocker.unblock():
        try:
            world = build_world("acme")
            setup = getattr(request.module, "site_data", None)
            data = setup(world) if setup is not None else None
            # Each test's own database set-up runs beside Playwright's event
            # loop (see _allow_orm_beside_playwright), before that fixture.
            with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
                patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                shared = SharedSite(world, server.thread.port, browser)
                shared.data = data
                yield shared
                browser.close()
        finally:
            server.stop()
            call_command("flush", verbosity=0, interactive=False)
