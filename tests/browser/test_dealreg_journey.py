"""Deal registration in a real browser, end to end: a partner user registers
a deal for a customer another partner already holds, sees it submitted with
a decision deadline and under conflict review (never whose claim it meets);
the partner's channel manager finds it in the admin with its conflict, is
refused an approval without an override reason, then approves with one; the
partner sees it approved and protected.

The other partner's registration is submitted and approved beforehand
through the services; the conflict checks run after each commit (Celery is
eager in tests, and live-server tests commit for real)."""

import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from dealreg import services
from dealreg.models import Conflict, DealRegistration, ProductLine
from prm.tenancy.models import Tenant
from prm.tenancy.roles import Role
from tests import factories
from tests.factories import PASSWORD

# Far from UTC, so that dates and times shown in the tenant's local time
# differ from UTC ones most of the day.
TENANT_TIMEZONE = "Pacific/Auckland"
DOMAIN = "initech.example"
OVERRIDE = "Customer asked for our partner's managed service; the other deal is hardware only."


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def assert_clean(console, *, admin: bool = False) -> None:
    """No Content-Security-Policy violation on the current page and no
    error in the console so far. Admin pages: no uncaught script error (the
    browser's own request for /favicon.ico answers 404 there)."""
    assert console.csp_violations() == []
    errors = ("pageerror",) if admin else ("error", "pageerror")
    assert not [m for m in console.messages if m.startswith(errors)]


def fact(scope, term: str):
    """The value of a ``<dt>term</dt><dd>value</dd>`` pair."""
    return scope.locator(f"dt:text-is('{term}') + dd")


def shown_date(day: date) -> str:
    """A date as the pages show it (prm.format.day: "3 Dec 2026")."""
    return f"{day.day} {day:%b %Y}"


@pytest.fixture
def rival(worlds) -> DealRegistration:
    """Acme's second partner, with a partner user of its own, has registered
    Initech (same domain) and had it approved."""
    acme = worlds["acme"]
    Tenant.objects.filter(pk=acme.tenant.pk).update(timezone=TENANT_TIMEZONE)
    acme.tenant.refresh_from_db()
    with acme.scope():
        products = {
            code: ProductLine.objects.create(tenant=acme.tenant, name=name, code=code)
            for code, name in (("fw", "Firewall"), ("sdwan", "SD-WAN"), ("edr", "Endpoint"))
        }
        rival_user = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival.user@acme.test"
        )
        registration = services.submit(
            tenant=acme.tenant,
            by=rival_user,
            given=services.RegistrationInput(
                data={
                    "customer_name": "Initech Corporation",
                    "customer_domain": DOMAIN,
                    "customer_country": "US",
                    "estimated_value": Decimal("30000.00"),
                    "currency": "USD",
                    "expected_close_date": date.today() + timedelta(days=90),
                    "description": "Firewall hardware refresh",
                },
                product_lines=[products["fw"]],
            ),
            client_token=uuid.uuid4(),
        )
        registration = services.approve(
            registration, by=acme[Role.OPS_ADMIN], reason="First to register"
        )
    assert registration.status == DealRegistration.Status.APPROVED
    return registration


@pytest.mark.browser
def test_partner_registers_a_conflicting_deal_approved_with_override(
    worlds, rival, portal_url, new_page, artifacts
):
    acme = worlds["acme"]
    tz = ZoneInfo(TENANT_TIMEZONE)
    rival_partner = acme.other_partner.name
    close_date = date.today() + timedelta(days=45)

    # --- The partner user registers the deal ---------------------------------------
    partner_page, partner_console = new_page()
    partner_page.goto(portal_url(acme, "/accounts/login/"))
    log_in(partner_page, acme[Role.PARTNER_USER].user.email)
    assert partner_page.url == portal_url(acme, "/")
    partner_page.get_by_test_id("deals-card").get_by_role("link", name="Register a deal").click()
    partner_page.wait_for_url(portal_url(acme, "/deals/new/"))
    expect(partner_page.get_by_role("heading", level=1)).to_have_text("Register a deal")
    assert_clean(partner_console)

    form = partner_page.locator("form.deal-form")
    form.get_by_label("Customer company name").fill("Initech")
    # Entered as a web address: stored as the bare domain the other partner used.
    form.get_by_label("Customer website or domain").fill("https://www.Initech.example/")
    form.get_by_label("Country").select_option("US")
    form.get_by_label("Firewall").check()
    form.get_by_label("Estimated value").fill("48000")
    expect(form.get_by_label("Currency")).to_have_value("USD")
    form.get_by_label("Expected close date").fill(close_date.isoformat())
    form.get_by_label("Description").fill("Firewalls for 12 branch offices")
    partner_page.screenshot(path=artifacts / "dealreg_partner_form.png", full_page=True)
    form.get_by_role("button", name="Submit for approval").click()
    partner_page.wait_for_url(re.compile(r"/deals/DR-[2-9A-Z]{8}/$"))
    code = urlsplit(partner_page.url).path.split("/")[2]

    with acme.scope():
        registration = DealRegistration.objects.select_related("partner").get(code=code)
        assert registration.partner == acme.partner
        assert registration.customer_domain == DOMAIN
        assert registration.status == DealRegistration.Status.SUBMITTED
        assert registration.approver == acme[Role.CHANNEL_MANAGER].user
        # The conflict check ran after the commit, before the page was shown.
        assert registration.conflict_state == DealRegistration.ConflictState.CONFLICT
        assert Conflict.objects.filter(registration=registration, other_registration=rival).exists()
    due = registration.sla_due_at.astimezone(tz)

    expect(partner_page.locator(".msg-success")).to_have_text(
        f"{code} submitted. We will tell you as soon as it is decided."
    )
    expect(partner_page.get_by_role("heading", level=1)).to_have_text(f"{code} Initech")
    expect(partner_page.locator(".page-head .deal-status")).to_have_text("Submitted")
    expect(partner_page.locator(".page-head .deal-conflict")).to_have_text("Conflict review")
    expect(partner_page.get_by_test_id("conflict-notice")).to_contain_text("Under conflict review.")
    clock = partner_page.get_by_test_id("sla-clock")
    expect(clock.locator(".sla-state")).to_have_text("On track")
    expect(fact(clock, "Decision due")).to_have_text(
        f"{due.day} {due:%b %Y, %H:%M} ({TENANT_TIMEZONE})"
    )
    partner_body = partner_page.locator("body")
    expect(fact(partner_page, "Expected close")).to_have_text(shown_date(close_date))
    expect(fact(partner_page, "Product lines")).to_have_text("Firewall")
    expect(fact(partner_page, "Website")).to_have_text(DOMAIN)
    # Under review, but never whose claim it meets.
    expect(partner_body).not_to_contain_text(rival_partner)
    expect(partner_body).not_to_contain_text(rival.code)
    partner_page.screenshot(path=artifacts / "dealreg_partner_submitted.png", full_page=True)
    assert_clean(partner_console)

    # --- The channel manager decides in the admin ----------------------------------
    page, console = new_page()
    page.goto(portal_url(acme, "/accounts/login/"))
    log_in(page, acme[Role.CHANNEL_MANAGER].user.email)
    assert page.url == portal_url(acme, "/")
    page.get_by_role("link", name="Open the admin").click()
    page.wait_for_url(portal_url(acme, "/admin/"))
    page.get_by_role("link", name="Deal registrations", exact=True).click()
    page.wait_for_url(portal_url(acme, "/admin/dealreg/dealregistration/"))
    # The list opens on the channel manager's work queue.
    expect(page.get_by_test_id("queue-decide")).to_have_attribute("aria-current", "page")
    row = page.locator("#result_list tbody tr", has_text=code)
    expect(row.locator(".field-registration")).to_contain_text(acme.partner.name)
    expect(row.locator(".field-status_badge .dr-status")).to_have_text("Submitted")
    expect(row.locator(".field-status_badge .dr-conflict-count")).to_have_text("1")
    expect(row.locator(".field-sla_due")).to_contain_text("on track")
    expect(row.locator(".field-value")).to_contain_text("48,000.00")
    expect(row.locator(".field-value")).to_be_in_viewport()
    page.screenshot(path=artifacts / "dealreg_admin_changelist.png", full_page=True)
    # The other side of the conflict (approved: not waiting for anyone) counts it too.
    page.get_by_test_id("queue-all").click()
    page.wait_for_url(portal_url(acme, "/admin/dealreg/dealregistration/?queue=all"))
    rival_row = page.locator("#result_list tbody tr", has_text=rival.code)
    expect(rival_row.locator(".field-status_badge .dr-conflict-count")).to_have_text("1")
    row = page.locator("#result_list tbody tr", has_text=code)
    assert_clean(console, admin=True)

    row.locator(".field-registration a").click()
    # (The admin keeps the list's view in the address, to go back to it.)
    page.wait_for_url(
        re.compile(
            re.escape(
                portal_url(acme, f"/admin/dealreg/dealregistration/{registration.pk}/change/")
            )
            + r"(\?.*)?$"
        )
    )
    change_url = page.url
    conflicts = page.locator("#conflicts")
    expect(conflicts.get_by_role("heading", level=2)).to_have_text("Conflicts (1)")
    conflict_row = conflicts.locator("tr.dr-conflict")
    expect(conflict_row).to_have_count(1)
    expect(conflict_row.get_by_role("link", name=rival.code)).to_be_visible()
    expect(conflict_row).to_contain_text(rival_partner)
    expect(conflict_row.locator(".dr-status")).to_have_text("Approved")
    expect(conflict_row).to_contain_text("before this one")
    reasons = conflict_row.locator(".dr-reasons li")
    expect(reasons.first).to_have_text("same domain")
    expect(reasons.filter(has_text="shared product: Firewall")).to_have_count(1)
    approve_form = page.locator("form.dr-action-approve")
    expect(approve_form.locator(".dr-warning")).to_contain_text(
        "Approving needs an override reason."
    )
    assert_clean(console, admin=True)

    # Approving without an override reason is refused, on the form.
    approve_form.get_by_label("Note to the partner").fill("Go ahead with the branch offices.")
    approve_form.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    approve_form = page.locator("form.dr-action-approve")
    expect(approve_form.locator(".errorlist")).to_contain_text(
        f"This registration conflicts with approved registration {rival.code}. "
        "Give a reason to approve it anyway."
    )
    # The note typed is kept for the second try.
    expect(approve_form.get_by_label("Note to the partner")).to_have_value(
        "Go ahead with the branch offices."
    )
    page.screenshot(path=artifacts / "dealreg_admin_override_refused.png", full_page=True)
    assert_clean(console, admin=True)
    with acme.scope():
        registration = DealRegistration.objects.get(pk=registration.pk)
    assert registration.status == DealRegistration.Status.SUBMITTED

    approve_form.get_by_label("Override reason").fill(OVERRIDE)
    approve_form.get_by_role("button", name="Approve").click()
    # Done: back on the page (a redirect after the post), with the news.
    expect(page.locator(".messagelist .success")).to_contain_text(
        f"{code} approved: protected until"
    )
    assert urlsplit(page.url).path == urlsplit(change_url).path
    with acme.scope():
        registration = DealRegistration.objects.get(pk=registration.pk)
    assert registration.status == DealRegistration.Status.APPROVED
    assert registration.decided_by == acme[Role.CHANNEL_MANAGER].user
    protected = shown_date(registration.protected_until)
    expect(page.locator(".dr-summary .dr-status")).to_have_text("Approved")
    expect(page.locator(".dr-summary .dr-protected")).to_have_text(f"Protected until {protected}")
    expect(page.locator("#decide")).to_have_count(0)
    page.screenshot(path=artifacts / "dealreg_admin_approved.png", full_page=True)
    assert_clean(console, admin=True)

    # --- The partner sees the decision -----------------------------------------------
    partner_page.reload()
    expect(partner_page.locator(".page-head .deal-status")).to_have_text("Approved")
    protection = partner_page.locator(
        "section.card", has=partner_page.get_by_role("heading", name="Protection")
    )
    expect(fact(protection, "Protected until")).to_have_text(protected)
    expect(partner_page.get_by_test_id("sla-clock")).to_have_count(0)
    expect(partner_body).to_contain_text("Go ahead with the branch offices.")
    expect(partner_body).not_to_contain_text(rival_partner)
    expect(partner_body).not_to_contain_text(rival.code)
    # The override reason is the vendor's own record.
    expect(partner_body).not_to_contain_text(OVERRIDE)
    partner_page.screenshot(path=artifacts / "dealreg_partner_approved.png", full_page=True)
    assert_clean(partner_console)
