"""Tier qualification in a real browser, end to end: Gold needs three
certified engineers and the Silver partner has two; its admin opens "Tier
progress" and reads "1 more certified engineer to Gold" (the page fits a
390 px phone without scrolling sideways); ops import the third engineer's
certification through the training CSV import in the admin (dry run, then
confirm); the evaluation runs (called here as the beat would; the confirmed
certification already triggered the partner's upgrade check); the partner
admin's page shows Gold; a deal the partner user marks won afterwards
accrues at Gold's commission rate, not Silver's.

The criteria, the commission plans (one per tier) and the approved
registration are set up through the ORM and services; Celery is eager and
live-server tests commit for real, so the accrual is in the ledger once the
page that recorded the win has answered."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from dealreg import services as dealreg
from dealreg.models import DealRegistration, ProductLine
from incentives.models import LedgerEntry
from partners.models import Tier, TierChange
from prm.tenancy.roles import Role
from program.evaluation import Trigger, evaluate
from tests.incentives.conftest import make_plan
from tests.program import builders as b

from .test_dealreg_journey import assert_clean, log_in

WON = Decimal("20000.00")
GOLD_RATE, SILVER_RATE = Decimal("12"), Decimal("8")
ENGINEER = "third.engineer@acme.test"


@pytest.fixture
def program(worlds):
    """Silver partner (since two months) with two certified engineers and a
    third person not certified yet; Gold needs three; commission 8 % for
    Silver partners, 12 % for Gold ones; a registration approved."""
    acme = worlds["acme"]
    with acme.scope():
        tiers = {t.name: t for t in Tier.objects.all()}
        cert = b.engineering(acme, code="NET-ENG", name="Network Engineer")
        b.engineers_ladder(acme, tiers, cert, gold=3, silver=1)
        b.at_tier(acme, acme.partner, tiers["Silver"])
        TierChange.objects.filter(partner=acme.partner, tier=tiers["Silver"]).update(
            effective_on=date.today() - timedelta(days=60)
        )
        TierChange.objects.filter(partner=acme.partner, tier=tiers["Gold"]).update(
            effective_on=date.today() - timedelta(days=400)
        )
        b.certify(acme, [acme[Role.PARTNER_ADMIN], acme[Role.PARTNER_USER]], cert)
        from tests import factories

        factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.partner, email=ENGINEER)
        make_plan(acme, name="Silver commission", rate_percent=SILVER_RATE, tiers=[tiers["Silver"]])
        make_plan(acme, name="Gold commission", rate_percent=GOLD_RATE, tiers=[tiers["Gold"]])
        firewall = ProductLine.objects.create(tenant=acme.tenant, name="Firewall", code="fw")
        registration = dealreg.submit(
            tenant=acme.tenant,
            by=acme[Role.PARTNER_USER],
            given=dealreg.RegistrationInput(
                data={
                    "customer_name": "Initech Corporation",
                    "customer_domain": "initech.example",
                    "customer_country": "US",
                    "estimated_value": Decimal("20000.00"),
                    "currency": "USD",
                    "expected_close_date": date.today() + timedelta(days=30),
                    "description": "Firewall refresh",
                },
                product_lines=[firewall],
            ),
            client_token=uuid.uuid4(),
        )
        return dealreg.approve(registration, by=acme[Role.CHANNEL_MANAGER])


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, overflow


@pytest.mark.browser
def test_a_certification_imported_lifts_the_partner_to_gold_and_its_rate(
    worlds, program: DealRegistration, portal_url, new_page, artifacts
):
    acme = worlds["acme"]

    # --- The partner admin sees what stands between them and Gold ------------------
    page, console = new_page()
    page.goto(portal_url(acme, "/accounts/login/"))
    log_in(page, acme[Role.PARTNER_ADMIN].user.email)
    page.get_by_role("link", name="Tier progress").first.click()
    page.wait_for_url(portal_url(acme, "/program/tiers/"))
    expect(page.get_by_test_id("tier")).to_have_text("Silver")
    expect(page.get_by_test_id("headline")).to_have_text("1 more certified engineer to Gold")
    expect(page.get_by_test_id("next")).to_contain_text("2 of 3 certified engineers")
    expect(page.get_by_test_id("where-to-act").get_by_role("link")).to_have_attribute(
        "href", "/onboarding/training/"
    )
    page.set_viewport_size({"width": 1366, "height": 900})
    no_sideways_scroll(page)
    page.set_viewport_size({"width": 390, "height": 844})
    no_sideways_scroll(page)
    page.screenshot(path=artifacts / "tier_progress_phone.png", full_page=True)
    assert_clean(console)

    # --- Ops import the third engineer's certification ------------------------------
    admin, admin_console = new_page()
    admin.goto(portal_url(acme, "/accounts/login/"))
    log_in(admin, acme[Role.OPS_ADMIN].user.email)
    admin.goto(portal_url(acme, "/admin/onboarding/trainingrecord/import/"))
    earned = (date.today() - timedelta(days=2)).isoformat()
    csv = (
        "email,course_or_certification_code,completed_on,score,certificate_id\n"
        f"{ENGINEER},net-eng,{earned},91,NE-3301\n"
    )
    admin.locator("input[type=file]").set_input_files(
        files=[{"name": "lms.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    admin.get_by_role("button", name="Check file (dry run)").click()
    admin.wait_for_load_state()
    expect(admin.locator("#import-preview")).to_contain_text("OK")
    admin.get_by_role("button", name="Import 1").click()
    admin.wait_for_load_state()
    expect(admin.locator(".messagelist")).to_be_visible()
    assert_clean(admin_console, admin=True)

    # --- The evaluation runs, as the beat would --------------------------------------
    # (Upgrades apply at once: the confirmed certification already had the
    # partner checked; the run confirms Gold and moves it no further.)
    with acme.scope():
        evaluate(acme.tenant, trigger=Trigger.ON_DEMAND)
        acme.partner.refresh_from_db()
        assert acme.partner.tier.name == "Gold"
        upgrades = TierChange.objects.filter(
            partner=acme.partner, reason=TierChange.Reason.UPGRADE
        ).values_list("tier__name", "effective_on")
        assert list(upgrades) == [("Gold", date.today())]

    # --- The partner admin's page shows Gold ------------------------------------------
    page.reload()
    expect(page.get_by_test_id("tier")).to_have_text("Gold")
    expect(page.get_by_test_id("current-rung")).to_contain_text("Gold")
    expect(page.get_by_test_id("history").get_by_test_id("tier-change").first).to_contain_text(
        "Qualified for a higher tier"
    )
    no_sideways_scroll(page)
    assert_clean(console)

    # --- A deal won afterwards accrues at Gold's rate ----------------------------------
    seller, seller_console = new_page()
    seller.goto(portal_url(acme, "/accounts/login/"))
    log_in(seller, acme[Role.PARTNER_USER].user.email)
    seller.goto(portal_url(acme, f"/deals/{program.code}/"))
    outcome = seller.locator("#outcome")
    outcome.get_by_role("radio", name="Won").check()
    outcome.get_by_label("Amount won (USD)").fill(str(WON))
    outcome.get_by_label("Close date").fill(date.today().isoformat())
    outcome.get_by_role("button", name="Record outcome").click()
    seller.wait_for_load_state()
    expect(seller.locator(".page-head .deal-status")).to_have_text("Won")
    assert_clean(seller_console)
    with acme.scope():
        entries = list(
            LedgerEntry.objects.filter(registration=program).select_related("plan_version__plan")
        )
    assert [(e.kind, e.amount, e.plan_version.plan.name) for e in entries] == [
        (LedgerEntry.Kind.ACCRUAL, WON * GOLD_RATE / 100, "Gold commission")  # not 8 %
    ]
