"""Incentives in a real browser, end to end: a partner user marks an
approved deal won; the accrual task runs after the commit and the partner's
admin sees the accrual on this month's statement, linked to the deal; finance
starts a payout run in the admin, a colleague approves it (four eyes), it is marked paid with a
payment reference; the partner sees the payout on the statement and the
accrual marked paid.

The commission plan and the approved registration are set up through the
services; Celery is eager in tests and live-server tests commit for real, so
the accrual and payout tasks run after each request's commit."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from dealreg import services as dealreg
from dealreg.models import DealRegistration, ProductLine
from incentives.models import LedgerEntry, PayoutRun, Settlement
from prm.tenancy.roles import Role
from tests.incentives.conftest import make_plan

from .test_dealreg_journey import assert_clean, log_in

WON = Decimal("27500.00")
# Closed 40 days ago: past the 30-day holding period, so payable today.
CLOSED = date.today() - timedelta(days=40)


@pytest.fixture
def approved(worlds) -> DealRegistration:
    acme = worlds["acme"]
    with acme.scope():
        firewall = ProductLine.objects.create(tenant=acme.tenant, name="Firewall", code="fw")
        make_plan(acme, name="Resale commission", rate_percent=Decimal("8.5"))
        registration = dealreg.submit(
            tenant=acme.tenant,
            by=acme[Role.PARTNER_USER],
            given=dealreg.RegistrationInput(
                data={
                    "customer_name": "Initech Corporation",
                    "customer_domain": "initech.example",
                    "customer_country": "US",
                    "estimated_value": Decimal("25000.00"),
                    "currency": "USD",
                    "expected_close_date": date.today() + timedelta(days=30),
                    "description": "Firewall refresh",
                },
                product_lines=[firewall],
            ),
            client_token=uuid.uuid4(),
        )
        return dealreg.approve(registration, by=acme[Role.CHANNEL_MANAGER])


@pytest.mark.browser
def test_won_deal_accrues_is_paid_and_the_partner_sees_it(
    worlds, approved, portal_url, new_page, artifacts
):
    acme = worlds["acme"]
    code = approved.code
    commission = "2,337.50 USD"  # 8.5% of 27,500.00

    # --- The partner user records the win ----------------------------------------
    page, console = new_page()
    page.goto(portal_url(acme, "/accounts/login/"))
    log_in(page, acme[Role.PARTNER_USER].user.email)
    page.goto(portal_url(acme, f"/deals/{code}/"))
    outcome = page.locator("#outcome")
    outcome.get_by_role("radio", name="Won").check()
    outcome.get_by_label("Amount won (USD)").fill(str(WON))
    outcome.get_by_label("Close date").fill(CLOSED.isoformat())
    outcome.get_by_role("button", name="Record outcome").click()
    page.wait_for_load_state()
    expect(page.locator(".page-head .deal-status")).to_have_text("Won")
    assert_clean(console)
    with acme.scope():
        (accrual,) = LedgerEntry.objects.filter(registration=approved)
    assert (accrual.kind, accrual.amount, accrual.available_on) == (
        LedgerEntry.Kind.ACCRUAL,
        Decimal("2337.50"),
        CLOSED + timedelta(days=30),
    )

    # --- The partner admin sees it on this month's statement -----------------------
    partner, partner_console = new_page()
    partner.goto(portal_url(acme, "/accounts/login/"))
    log_in(partner, acme[Role.PARTNER_ADMIN].user.email)
    partner.get_by_role("link", name="Statements").first.click()
    partner.wait_for_url(portal_url(acme, "/incentives/"))
    partner.get_by_test_id("statement-periods").locator("tbody tr a").first.click()
    partner.wait_for_load_state()
    expect(partner.get_by_test_id("accruals")).to_have_text(commission)
    expect(partner.get_by_test_id("closing")).to_contain_text(commission)
    line = partner.locator(f"#line-{accrual.pk}")
    expect(line.get_by_role("link", name=code)).to_have_attribute("href", f"/deals/{code}/")
    expect(line).to_contain_text("not yet")
    partner.screenshot(path=artifacts / "incentives_statement_accrued.png", full_page=True)
    assert_clean(partner_console)

    # --- Finance runs, approves and pays a payout in the admin ----------------------
    admin, admin_console = new_page()
    admin.goto(portal_url(acme, "/accounts/login/"))
    log_in(admin, acme[Role.FINANCE].user.email)
    admin.goto(portal_url(acme, "/admin/"))
    admin.get_by_role("link", name="Payout runs").click()
    admin.wait_for_url(portal_url(acme, "/admin/incentives/payoutrun/"))
    admin.goto(portal_url(acme, "/admin/incentives/payoutrun/add/"))
    admin.get_by_label("Cutoff").fill(date.today().isoformat())
    admin.get_by_role("button", name="Start the run").click()
    admin.wait_for_url("**/change/")
    summary = admin.locator("#run-summary")
    # Computed by the (eager) task after the commit: in review at once.
    expect(summary.get_by_role("heading", level=2)).to_contain_text("In review")
    expect(
        admin.locator("#result_list, table").filter(has_text=acme.partner.name).first
    ).to_be_visible()
    admin.screenshot(path=artifacts / "incentives_payout_review.png", full_page=True)
    # Four eyes: who started the run is not offered "Approve"; a colleague approves.
    expect(admin.get_by_role("button", name="Approve the run")).to_have_count(0)
    expect(admin.get_by_test_id("approve-withheld")).to_contain_text("another finance person")
    run_url = admin.url
    checker = acme.second(Role.FINANCE)
    approver, approver_console = new_page()
    approver.goto(portal_url(acme, "/accounts/login/"))
    log_in(approver, checker.user.email)
    approver.goto(run_url)
    approver.get_by_role("button", name="Approve the run").click()
    approver.wait_for_load_state()
    expect(approver.get_by_test_id("approved-by")).to_contain_text(str(checker.user))
    assert_clean(approver_console, admin=True)
    admin.reload()
    expect(summary.get_by_role("heading", level=2)).to_contain_text("Approved")
    admin.get_by_label("Payment reference").fill("WIRE-2026-1142")
    admin.get_by_role("button", name="Mark the run paid").click()
    admin.wait_for_load_state()
    expect(summary.get_by_role("heading", level=2)).to_contain_text("Paid")
    expect(summary).to_contain_text("WIRE-2026-1142")
    assert_clean(admin_console, admin=True)
    with acme.scope():
        run = PayoutRun.objects.get()
        (payout,) = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYOUT)
        assert (payout.partner, payout.amount_base) == (acme.partner, Decimal("-2337.50"))
        settled = Settlement.objects.get(entry=accrual)
        assert (settled.run, settled.days_close_to_paid) == (run, 40)

    # --- The partner sees it paid -----------------------------------------------------
    partner.reload()
    expect(partner.get_by_test_id("payouts")).to_have_text("-2,337.50 USD")
    expect(partner.get_by_test_id("closing")).to_contain_text("0.00 USD")
    expect(partner.locator(f"#line-{accrual.pk}")).to_contain_text(run.reference)
    expect(partner.locator(f"#line-{payout.pk}")).to_contain_text("Payout")
    partner.screenshot(path=artifacts / "incentives_statement_paid.png", full_page=True)
    assert_clean(partner_console)
