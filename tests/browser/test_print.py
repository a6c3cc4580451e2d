"""Printing a page (static/css/print.css, the Print button of
static/js/prm.js), on the style guide's printing example: the button shows
only with JavaScript and prints; on paper the menus, buttons and filters go,
the filter summary stays, and a chart's table of numbers prints open."""

import pytest
from playwright.sync_api import expect

from prm.tenancy.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

URL = "/style-guide/#print"


def test_the_print_button_shows_with_javascript_and_prints(site):
    page, console = site.new_page(Role.EXECUTIVE)
    page.add_init_script(
        "window.print = () => { window.__printed = (window.__printed || 0) + 1; };"
    )
    page.goto(site.url(URL))
    button = page.locator("#print [data-print]")
    expect(button).to_be_visible()
    expect(button).to_have_text("Print")
    button.click()
    assert page.evaluate("window.__printed") == 1
    assert console.csp_violations() == []
    assert [m for m in console.messages if m.startswith("pageerror")] == []


def test_without_javascript_there_is_no_print_button(site):
    context = site.browser.new_context(
        storage_state=site.signed_in(Role.EXECUTIVE), java_script_enabled=False
    )
    page = context.new_page()
    page.goto(site.url(URL))
    expect(page.locator("#print [data-print]")).to_be_hidden()
    expect(page.locator("#print .filter-summary")).to_be_visible()
    context.close()


def test_on_paper_the_content_without_the_controls(site, artifacts):
    page, console = site.new_page(Role.EXECUTIVE, width=390)
    page.goto(site.url(URL))
    expect(page.locator("#print .print-only")).to_be_hidden()  # on screen
    details = page.locator("#print details[data-print-open]")
    assert details.get_attribute("open") is None
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#print [data-print]")).to_be_hidden()
    expect(page.locator("button").first).to_be_hidden()
    expect(page.locator("#print .filter-summary")).to_be_visible()
    expect(page.locator("#print .print-only")).to_be_visible()
    assert details.get_attribute("open") == ""
    expect(details.locator("table")).to_be_visible()
    expect(details.locator("summary")).to_be_hidden()
    page.screenshot(path=artifacts / "print_style_guide.png", full_page=True)
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert details.get_attribute("open") is None
    assert console.csp_violations() == []
