"""Partner onboarding in a real browser, end to end: a company applies on
the vendor's public page; the applicant confirms their email from the mail;
ops tick the vetting checklist and approve; the applicant, now the new
partner's admin, sets a password from the invitation mail, is kept to the
onboarding pages until they accept the partner agreement, accepts it, sees
their plan's progress, registers a first deal, and the plan's step ticks
itself.

What ops configure (the vetting check, the plan template, the agreement)
is set up through the ORM and services (tested in the admin tests); Celery
is eager and live-server tests commit for real, so the mails are in
``mail.outbox`` once the page that sent them has answered."""

import re
from datetime import date, timedelta

import pytest
from django.core import mail
from playwright.sync_api import expect

from dealreg.models import ProductLine
from onboarding import acceptance
from onboarding.models import (
    Agreement,
    Application,
    Owner,
    Plan,
    PlanTemplate,
    StepKind,
    TemplateStep,
    VettingCheck,
)
from partners.models import Partner
from prm.tenancy.roles import Role

from .test_dealreg_journey import assert_clean, log_in

APPLICANT = "dana.scully@initrode.example"
PASSWORD = "a-long-new-password-2026"


@pytest.fixture
def program(worlds):
    """Ops' configuration: a vetting check, the partner agreement in force,
    a reseller plan whose steps are accepting it and registering a first
    deal, and a product line to register."""
    acme = worlds["acme"]
    ops = acme[Role.OPS_ADMIN]
    with acme.scope():
        tenant = acme.tenant
        VettingCheck.objects.create(tenant=tenant, name="References checked", position=1)
        ProductLine.objects.create(tenant=tenant, name="Firewall", code="fw")
        agreement = Agreement.objects.create(tenant=tenant, title="Partner Program Agreement")
        acceptance.add_version(
            agreement,
            by=ops,
            body="# Partner Program Agreement\n\nThe partner **sells** our products.",
            effective_on=tenant.local_today() - timedelta(days=30),
        )
        template = PlanTemplate.objects.create(
            tenant=tenant, name="Reseller onboarding", partner_type="reseller", target_days=90
        )
        for position, (kind, title, days) in enumerate(
            (
                (StepKind.AGREEMENT, "Accept the partner agreement", 7),
                (StepKind.FIRST_REGISTRATION, "Register a first deal", 60),
            ),
            start=1,
        ):
            TemplateStep.objects.create(
                tenant=tenant,
                template=template,
                position=position,
                title=title,
                kind=kind,
                owner=Owner.PARTNER,
                due_days=days,
                agreement=agreement if kind == StepKind.AGREEMENT else None,
            )
    return acme


def _link(pattern: str) -> str:
    """The path of the link in the last mail whose body matches ``pattern``
    (the mail's host has no port; the live server's has)."""
    for message in reversed(mail.outbox):
        found = re.search(r"https?://[^/\s]+(" + pattern + ")", message.body)
        if found:
            return found.group(1)
    raise AssertionError(f"No mail with a link like {pattern}: {[m.subject for m in mail.outbox]}")


@pytest.mark.browser
def test_apply_confirm_approve_join_accept_and_the_first_deal_ticks_the_plan(
    program, portal_url, new_page, artifacts
):
    acme = program

    # --- A company applies on the public page --------------------------------------
    page, console = new_page()
    page.goto(portal_url(acme, "/apply/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("partner")
    page.get_by_label("Company name").fill("Initrode Systems")
    page.get_by_label("Website").fill("initrode.example")
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Partnership you are applying for").select_option("reseller")
    page.get_by_label("Company size").select_option(index=2)
    page.get_by_label("Your name").fill("Dana Scully")
    page.get_by_label("Your work email").fill(APPLICANT)
    page.screenshot(path=artifacts / "onboarding_apply.png", full_page=True)
    page.get_by_role("button", name="Send the application").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("inbox")
    assert_clean(console)
    with acme.scope():
        application = Application.objects.get(contact_email=APPLICANT)
        assert application.status == Application.Status.UNCONFIRMED

    # --- The applicant confirms their email ----------------------------------------
    page.goto(portal_url(acme, _link(r"/apply/confirm/[^\s/]+/")))
    page.get_by_test_id("confirm-button").click()
    page.wait_for_load_state()
    with acme.scope():
        application.refresh_from_db()
        assert application.status == Application.Status.SUBMITTED
        assert application.due_at is not None

    # --- Ops vet and approve it in the admin ---------------------------------------
    ops, ops_console = new_page()
    ops.goto(portal_url(acme, "/accounts/login/"))
    log_in(ops, acme[Role.OPS_ADMIN].user.email)
    ops.goto(portal_url(acme, "/admin/onboarding/application/"))
    ops.get_by_role("link", name=re.compile(application.code)).first.click()
    expect(ops.locator("body")).to_contain_text("Initrode Systems")
    ops.get_by_role("button", name="Tick").first.click()
    ops.wait_for_load_state()
    ops.get_by_role("button", name="Approve…").click()
    ops.get_by_role("button", name="Approve and invite").click()
    ops.wait_for_load_state()
    assert_clean(ops_console, admin=True)
    with acme.scope():
        application.refresh_from_db()
        assert application.status == Application.Status.APPROVED
        partner = Partner.objects.get(pk=application.partner_id)
        assert partner.status == Partner.Status.ONBOARDING
        plan = Plan.objects.get(partner=partner)

    # --- The new partner admin joins from the invitation ---------------------------
    newcomer, newcomer_console = new_page()
    newcomer.goto(portal_url(acme, _link(r"/invitations/[^\s/]+/")))
    newcomer.get_by_label("Your name").fill("Dana Scully")
    newcomer.get_by_label("Password", exact=True).fill(PASSWORD)
    newcomer.get_by_label("Password (again)").fill(PASSWORD)
    newcomer.get_by_role("button", name="Join").click()
    newcomer.wait_for_load_state()
    # Held by the agreement: the portal sends them to it, with the banner.
    newcomer.goto(portal_url(acme, "/deals/new/"))
    newcomer.wait_for_url(portal_url(acme, "/onboarding/agreements/"))
    expect(newcomer.get_by_test_id("portal-gate")).to_be_visible()

    # --- They accept the agreement -------------------------------------------------
    newcomer.get_by_test_id("owed-row").get_by_role("link").first.click()
    expect(newcomer.locator("body")).to_contain_text("sells")
    newcomer.get_by_label(
        "I have read this agreement and accept it on behalf of my organisation"
    ).check()
    newcomer.get_by_label("Type your full name").fill("Dana Scully")
    newcomer.screenshot(path=artifacts / "onboarding_agreement.png", full_page=True)
    newcomer.get_by_role("button", name="Accept the agreement").click()
    newcomer.wait_for_load_state()
    expect(newcomer.get_by_test_id("portal-gate")).to_have_count(0)
    assert_clean(newcomer_console)

    # --- The plan shows the agreement step done ------------------------------------
    newcomer.goto(portal_url(acme, "/onboarding/"))
    expect(newcomer.get_by_test_id("plan-percent")).to_have_text("50 %")
    expect(newcomer.get_by_test_id("step-done")).to_have_count(1)

    # --- A first deal registered: its step ticks itself ----------------------------
    newcomer.goto(portal_url(acme, "/deals/new/"))
    form = newcomer.locator("form.deal-form")
    form.get_by_label("Customer company name").fill("Globochem")
    form.get_by_label("Customer website or domain").fill("globochem.example")
    form.get_by_label("Country").select_option("US")
    form.get_by_label("Firewall").check()
    form.get_by_label("Estimated value").fill("30000")
    form.get_by_label("Expected close date").fill((date.today() + timedelta(days=40)).isoformat())
    form.get_by_label("Description").fill("Firewalls for the head office")
    form.get_by_role("button", name="Submit for approval").click()
    newcomer.wait_for_url(re.compile(r"/deals/DR-[2-9A-Z]{8}/$"))

    newcomer.goto(portal_url(acme, "/onboarding/"))
    expect(newcomer.get_by_test_id("plan-percent")).to_have_text("100 %")
    expect(newcomer.get_by_test_id("step-done")).to_have_count(2)
    newcomer.screenshot(path=artifacts / "onboarding_plan.png", full_page=True)
    assert_clean(newcomer_console)
    with acme.scope():
        plan.refresh_from_db()
        assert plan.status == Plan.Status.COMPLETED
        step = plan.steps.get(kind=StepKind.FIRST_REGISTRATION)
        assert step.source == "automatic" and step.evidence.startswith("DR-")
