"""A partner admin's API key, in a real browser on a phone (390 px) and a
desktop: from the menu to the "API keys" page, a new key (read access to
the directory), its token shown once and copied with the button, a request
made with it, then revoked after confirming, after which the same request
is refused. Every page fits the width, passes axe-core and keeps the
Content-Security-Policy (the copy button is the app's own script)."""

import pytest
from playwright.sync_api import Page, expect

from prm.api.models import ApiKey
from prm.tenancy.roles import Role

from .a11y import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# A request from another system: the key only, no cookie of the page's.
FETCH = """
async (token) => {
  const response = await fetch("/api/v1/partners/", {
    credentials: "omit",
    headers: {Authorization: "Bearer " + token, Accept: "application/json"},
  });
  return {status: response.status, body: await response.json()};
}
"""


def assert_clean(page: Page, console) -> None:
    problems = check_page(page) + console.csp_violations()
    problems += [m for m in console.messages if m.startswith("pageerror")]
    assert not problems, f"{page.url}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("width", [390, 1366])
def test_partner_admin_creates_copies_uses_and_revokes_a_key(site, width, artifacts):
    world = site.world
    name = f"Reseller CRM {width}"
    page, console = site.new_page(Role.PARTNER_ADMIN, width=width)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url(""))
    page.goto(site.url("/"))
    if width == 390:
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.wait_for_url(site.url("/api-keys/"))
    expect(page.get_by_role("link", name="API reference")).to_have_attribute(
        "href", "/api/v1/docs/"
    )
    assert_clean(page, console)

    page.get_by_test_id("new-key").click()
    page.wait_for_url(site.url("/api-keys/new/"))
    expect(page.get_by_label("Partners: read and write")).to_have_count(0)
    assert_clean(page, console)
    page.screenshot(path=artifacts / f"api_key_new_{width}.png", full_page=True)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Partners: read", exact=True).check()
    page.get_by_test_id("create-key").click()
    page.wait_for_url(site.url("/api-keys/created/"))

    token = page.get_by_test_id("api-token").inner_text().strip()
    assert token.startswith("prm_")
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    page.get_by_role("button", name="Copy the key").click()
    expect(page.locator("[data-copy-status]")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert_clean(page, console)
    page.screenshot(path=artifacts / f"api_key_created_{width}.png", full_page=True)

    used = page.evaluate(FETCH, token)
    assert used["status"] == 200, used
    assert [p["name"] for p in used["body"]["results"]] == [world.partner.name]

    # Shown once: back on the page, the token is gone.
    page.reload()
    expect(page.get_by_test_id("api-token")).to_have_count(0)
    expect(page.get_by_role("heading", name="No new key to show")).to_be_visible()

    page.goto(site.url("/api-keys/"))
    row = page.get_by_test_id("key-row").filter(has_text=name)
    expect(row.get_by_test_id("key-state")).to_have_text("Active")
    expect(row).not_to_contain_text(token.split("_")[-1])
    row.get_by_test_id("revoke").click()
    expect(page.get_by_test_id("confirm")).to_contain_text("refused from now on")
    assert_clean(page, console)
    page.get_by_role("button", name="Revoke the key").click()
    page.wait_for_url(site.url("/api-keys/"))
    expect(page.get_by_text(f"The key “{name}” is revoked")).to_be_visible()
    expect(row.get_by_test_id("key-state")).to_have_text("Revoked")
    assert_clean(page, console)
    page.screenshot(path=artifacts / f"api_key_list_{width}.png", full_page=True)

    refused = page.evaluate(FETCH, token)
    assert refused["status"] == 401, refused
    with world.scope():
        assert ApiKey.objects.get(name=name).revoked_by == world[Role.PARTNER_ADMIN].user
    page.context.close()
