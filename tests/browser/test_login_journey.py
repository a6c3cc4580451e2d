"""A partner user's main journey in a real browser: log in on their
program's host, see their organisation; the same credentials are refused on
another program's host. And a partner admin inviting a colleague who joins
through the mailed link."""

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.adapter import DefaultAccountAdapter
from django.core import mail
from playwright.sync_api import expect

from tests.factories import PASSWORD

INCORRECT = str(DefaultAccountAdapter.error_messages["email_password_mismatch"])


def log_in(page, email: str, password: str = PASSWORD) -> None:
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


@pytest.mark.browser
def test_partner_user_logs_in_on_their_program_only(worlds, portal_url, new_page, artifacts):
    acme, globex = worlds["acme"], worlds["globex"]
    email = acme["partner_user"].user.email
    manager = acme["channel_manager"].user

    page, console = new_page()
    page.goto(portal_url(acme, "/"))
    # Anonymous: sent to the login page, which offers no sign-up.
    assert urlsplit(page.url).path == "/accounts/login/"
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Log in to the Acme Corp partner portal"
    )
    expect(page.get_by_text("sign up", exact=False)).to_have_count(0)
    assert console.csp_violations() == []

    log_in(page, email)
    assert page.url == portal_url(acme, "/")
    partner_card = page.get_by_test_id("partner-card")
    expect(partner_card.get_by_role("heading", level=2)).to_have_text(acme.partner.name)
    expect(partner_card.locator(".chip.tier")).to_have_text("Gold")
    manager_card = page.get_by_test_id("manager-card")
    expect(manager_card).to_contain_text(manager.get_full_name())
    expect(manager_card.get_by_role("link", name=manager.email)).to_have_attribute(
        "href", f"mailto:{manager.email}"
    )
    expect(page.locator(".whoami")).to_contain_text(f"Partner user · {acme.partner.name}")
    # The stylesheet loaded (served by the app, allowed by the policy).
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    page.screenshot(path=artifacts / "acme_partner_home.png", full_page=True)
    assert console.csp_violations() == []
    # The user menu holds "My account"; allauth's email page, in its menu,
    # loads its scripts from the app, within the policy.
    page.locator(".usermenu > summary").click()
    page.get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    page.get_by_role("navigation", name="My account").get_by_role(
        "link", name="Email addresses"
    ).click()
    expect(page.get_by_text(email).first).to_be_visible()
    assert console.csp_violations() == []
    assert not [m for m in console.messages if m.startswith(("error", "pageerror"))]

    # Same credentials on another program's host: refused like a wrong password.
    page, console = new_page()
    page.goto(portal_url(globex, "/accounts/login/"))
    log_in(page, email)
    assert urlsplit(page.url).path == "/accounts/login/"
    expect(page.get_by_role("alert").first).to_have_text(re.compile(re.escape(INCORRECT)))
    page.screenshot(path=artifacts / "globex_login_refused.png", full_page=True)
    assert not any(c["name"] == "sessionid" for c in page.context.cookies())
    page.goto(portal_url(globex, "/"))
    assert urlsplit(page.url).path == "/accounts/login/"
    assert console.csp_violations() == []


@pytest.mark.browser
def test_partner_admin_invites_a_colleague_who_joins(
    worlds, portal_url, new_page, artifacts, live_server, settings
):
    acme = worlds["acme"]
    settings.PRM_URL_PORT = str(live_server.thread.port)  # links in mails reach the live server
    mail.outbox.clear()

    page, console = new_page()
    page.goto(portal_url(acme, "/accounts/login/"))
    log_in(page, acme["partner_admin"].user.email)
    page.get_by_role("link", name="Manage colleagues").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Colleagues at {acme.partner.name}")
    page.fill("input[name=email]", "colleague@example.test")
    page.select_option("select[name=role]", "partner_user")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".msg-success")).to_have_text("Invitation sent to colleague@example.test.")
    page.screenshot(path=artifacts / "acme_partner_admin_people.png", full_page=True)
    assert console.csp_violations() == []

    [message] = mail.outbox
    link = re.search(r"http://\S+/invitations/\S+/", message.body).group(0)
    assert link.startswith(portal_url(acme, "/invitations/"))

    page, console = new_page()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Join the Acme Corp partner portal")
    page.fill("input[name=full_name]", "Col League")
    page.fill("input[name=password]", "a-fresh-strong-passphrase-42")
    page.fill("input[name=password_confirm]", "a-different-passphrase-42")
    page.get_by_role("button", name="Join").click()
    expect(page.locator(".field.has-error")).to_contain_text("The two passwords differ.")
    page.fill("input[name=password]", "a-fresh-strong-passphrase-42")
    page.fill("input[name=password_confirm]", "a-fresh-strong-passphrase-42")
    page.get_by_role("button", name="Join").click()
    page.wait_for_load_state()
    assert page.url == portal_url(acme, "/")
    expect(page.locator(".msg-success")).to_have_text("Welcome to Acme Corp.")
    expect(page.get_by_test_id("partner-card")).to_contain_text(acme.partner.name)
    assert console.csp_violations() == []

    # The link worked once.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This invitation link is not valid")
