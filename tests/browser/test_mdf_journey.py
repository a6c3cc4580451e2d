"""Market development funds in a real browser, end to end: the partner
user requests funds for a webinar in the portal; the channel manager
approves it in the admin; the partner claims it with a PDF invoice; finance
reviews the claim (the invoice shown inline) and approves it; finance's
payout run pays the reimbursement; the partner sees it paid on the claim,
on the statement, and the activity's ROI from the deal it sourced.

The fund, budget and allocation are set up through the services (ops'
work, tested in the admin tests). The activity takes place today, so it can
be claimed at once; Celery is eager and live-server tests commit for real."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from incentives.models import LedgerEntry, Settlement
from mdf import funds
from mdf.models import ActivityType, Claim, Document, FundRequest, FundType, SourcedDeal
from prm.tenancy.roles import Role
from tests.incentives.conftest import make_won_deal
from tests.mdf.builders import PDF

from .test_dealreg_journey import assert_clean, fact, log_in


@pytest.fixture
def allocation(worlds):
    acme = worlds["acme"]
    with acme.scope():
        fund = FundType.objects.create(
            tenant=acme.tenant,
            name="MDF",
            reimbursement_percent=Decimal("50"),
            claim_window_days=60,
            request_lead_days=0,
            activity_types=[a.value for a in ActivityType],
            required_documents=[Document.INVOICE],
        )
        today = acme.tenant.local_today()
        from mdf import periods

        year, number = periods.period_of(acme.tenant, "quarter", today)
        budget = funds.create_budget(
            acme.tenant,
            by=acme[Role.OPS_ADMIN],
            fund_type=fund,
            span="quarter",
            fiscal_year=year,
            number=number,
            amount=Decimal("100000"),
        )
        return funds.allocate(budget, acme.partner, Decimal("10000"), by=acme[Role.OPS_ADMIN])


@pytest.mark.browser
def test_request_approve_claim_review_pay_and_see_it(
    worlds, allocation, portal_url, new_page, artifacts, tmp_path
):
    acme = worlds["acme"]
    today = acme.tenant.local_today()

    # --- The partner user requests funds ------------------------------------------------
    partner, console = new_page()
    partner.goto(portal_url(acme, "/accounts/login/"))
    log_in(partner, acme[Role.PARTNER_USER].user.email)
    partner.get_by_role("link", name="Funds").first.click()
    partner.wait_for_url(portal_url(acme, "/funds/"))
    expect(partner.get_by_test_id("allocations")).to_contain_text("10,000.00")
    partner.get_by_role("link", name="Request funds").first.click()
    partner.get_by_label("Funds to draw on").select_option(index=1)
    partner.get_by_label("Activity type").select_option("webinar")
    partner.get_by_label("Title").fill("Zero-trust webinar")
    partner.get_by_label("Activity starts").fill(today.isoformat())
    partner.get_by_label("Activity ends").fill(today.isoformat())
    partner.get_by_label("Description").fill("A webinar for 200 IT managers on zero trust.")
    partner.get_by_label("Cost 1", exact=True).fill("Platform and promotion")
    partner.get_by_label("Amount of cost 1", exact=True).fill("4000")
    partner.get_by_label("Amount requested").fill("2000")
    partner.get_by_role("button", name="Submit", exact=True).click()
    partner.wait_for_load_state()
    expect(partner.get_by_test_id("status")).to_have_text("Submitted")
    assert_clean(console)
    with acme.scope():
        request = FundRequest.objects.get()
        assert (request.requested_amount, request.total_cost) == (Decimal("2000"), Decimal("4000"))

    # --- The channel manager approves it in the admin ------------------------------------
    cm, cm_console = new_page()
    cm.goto(portal_url(acme, "/accounts/login/"))
    log_in(cm, acme[Role.CHANNEL_MANAGER].user.email)
    cm.goto(portal_url(acme, f"/admin/mdf/fundrequest/{request.pk}/change/"))
    cm.locator("#decide .dr-action-approve").get_by_role("button", name="Approve").click()
    cm.wait_for_load_state()
    expect(cm.locator("body")).to_contain_text("Approved")
    assert_clean(cm_console, admin=True)
    with acme.scope():
        request.refresh_from_db()
        assert (request.status, request.reserved) == ("approved", Decimal("2000"))

    # --- The partner claims it with a PDF invoice ------------------------------------------
    partner.reload()
    expect(partner.get_by_test_id("status")).to_have_text("Approved")
    partner.get_by_role("link", name="Claim", exact=True).click()
    partner.get_by_label("Supplier").fill("Webinar Co")
    partner.get_by_label("Invoice number").fill("WC-2026-118")
    partner.get_by_label("Invoice date").fill(today.isoformat())
    partner.get_by_label("Cost 1", exact=True).fill("Platform and promotion")
    partner.get_by_label("Amount of cost 1", exact=True).fill("3600")
    partner.get_by_label("Amount claimed", exact=False).fill("1800")
    invoice = tmp_path / "invoice-WC-2026-118.pdf"
    invoice.write_bytes(PDF)
    partner.get_by_label("Invoice (required)").set_input_files(str(invoice))
    partner.get_by_role("button", name="Submit the claim").click()
    partner.wait_for_load_state()
    expect(partner.get_by_test_id("status")).to_have_text("Submitted")
    assert_clean(console)
    with acme.scope():
        claim = Claim.objects.get()
        assert claim.proofs.get().content_type == "application/pdf"

    # --- Finance reviews the claim, the invoice inline, and approves it -----------------
    finance, finance_console = new_page()
    finance.goto(portal_url(acme, "/accounts/login/"))
    log_in(finance, acme[Role.FINANCE].user.email)
    finance.goto(portal_url(acme, f"/admin/mdf/claim/{claim.pk}/change/"))
    expect(finance.get_by_test_id("proof").locator("iframe")).to_have_count(1)
    finance.screenshot(path=artifacts / "mdf_claim_review.png", full_page=True)
    finance.locator(".dr-action-approve").get_by_role("button", name="Approve").click()
    finance.wait_for_load_state()
    expect(finance.get_by_test_id("reimbursement")).to_contain_text("1,800.00")
    assert_clean(finance_console, admin=True)
    with acme.scope():
        entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REIMBURSEMENT)
        assert (entry.partner_id, entry.amount) == (acme.partner.pk, Decimal("1800.00"))

    # --- Finance's payout run pays it (a colleague approves: four eyes) --------------------
    finance.goto(portal_url(acme, "/admin/incentives/payoutrun/add/"))
    finance.get_by_label("Cutoff").fill(today.isoformat())
    finance.get_by_role("button", name="Start the run").click()
    finance.wait_for_url("**/change/")
    run_url = finance.url
    checker, checker_console = new_page()
    checker.goto(portal_url(acme, "/accounts/login/"))
    log_in(checker, acme.second(Role.FINANCE).user.email)
    checker.goto(run_url)
    checker.get_by_role("button", name="Approve the run").click()
    checker.wait_for_load_state()
    assert_clean(checker_console, admin=True)
    finance.reload()
    finance.get_by_label("Payment reference").fill("WIRE-MDF-1")
    finance.get_by_role("button", name="Mark the run paid").click()
    finance.wait_for_load_state()
    with acme.scope():
        assert Settlement.objects.get(entry=entry).paid_on == today
        # The deal the webinar sourced was won (the registration form's
        # "sourced by" field is tested with the form; here it is linked).
        won = make_won_deal(acme, "36000.00", close_date=today - timedelta(days=1))
        SourcedDeal.objects.create(tenant=acme.tenant, registration=won, request=request)

    # --- The partner sees it paid: the claim, the statement, the ROI ------------------------
    partner.goto(portal_url(acme, f"/funds/claims/{claim.code}/"))
    expect(partner.get_by_test_id("paid")).to_contain_text("Paid")
    partner.goto(portal_url(acme, f"/funds/requests/{request.code}/"))
    # ROI = won revenue ÷ the vendor's share: 36,000 ÷ 1,800 = 20.
    expect(partner.get_by_test_id("roi")).to_contain_text("20.00")
    expect(fact(partner.get_by_test_id("results"), "Won revenue")).to_contain_text("36,000.00")
    partner.screenshot(path=artifacts / "mdf_activity_roi.png", full_page=True)
    assert_clean(console)
    admin_partner, admin_console = new_page()
    admin_partner.goto(portal_url(acme, "/accounts/login/"))
    log_in(admin_partner, acme[Role.PARTNER_ADMIN].user.email)
    admin_partner.goto(portal_url(acme, "/incentives/"))
    admin_partner.get_by_test_id("statement-periods").locator("tbody tr a").first.click()
    admin_partner.wait_for_load_state()
    expect(admin_partner.get_by_test_id("reimbursements")).to_have_text("1,800.00 USD")
    expect(admin_partner.locator(f"#line-{entry.pk}")).to_contain_text("MDF reimbursement")
    assert_clean(admin_console)
    assert date.today() >= today
