"""The main journeys with the keyboard only (Tab, typing, Space, Enter; no
mouse, no clicks): a partner user registers a deal from their home page,
and a channel manager approves a registration in the admin, from their
home page. Every control passed shows a focus indicator, and every page
on the way passes axe-core (no serious or critical violation): the portal's
at a desktop's and a phone's width, the admin's at a desktop's."""

import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from dealreg import services
from dealreg.models import DealRegistration, ProductLine
from prm.tenancy.roles import Role

from .a11y import check_page
from .keyboard import skip_to_content, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def site_data(world) -> dict[str, str]:
    """The product lines partners register for, and a registration of the
    channel manager's partner waiting for a decision."""
    with world.scope():
        firewall = ProductLine.objects.create(tenant=world.tenant, name="Firewall", code="fw")
        ProductLine.objects.create(tenant=world.tenant, name="SD-WAN", code="sdwan")
        waiting = services.submit(
            tenant=world.tenant,
            by=world[Role.PARTNER_USER],
            given=services.RegistrationInput(
                data={
                    "customer_name": "Umbrella Logistics",
                    "customer_domain": "umbrella.example",
                    "customer_country": "DE",
                    "estimated_value": Decimal("64000.00"),
                    "currency": "USD",
                    "expected_close_date": date.today() + timedelta(days=60),
                },
                product_lines=[firewall],
            ),
            client_token=uuid.uuid4(),
        )
    assert waiting.approver == world[Role.CHANNEL_MANAGER].user
    return {"waiting": waiting.code}


def assert_accessible(page: Page, console, *, scroll: bool = True) -> None:
    problems = check_page(page, scroll=scroll) + console.csp_violations()
    assert not problems, f"{page.url}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("width", [1366, 390])
def test_partner_registers_a_deal_with_the_keyboard(site, width):
    world = site.world
    close = date.today() + timedelta(days=75)
    customer = f"Keyboard Works {width}"
    page, console = site.new_page(Role.PARTNER_USER, width=width)
    page.goto(site.url("/"))
    assert_accessible(page, console)

    skip_to_content(page)
    tab_to(page, "Register a deal")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url("/deals/new/"))
    assert_accessible(page, console)

    skip_to_content(page)
    tab_to(page, "Customer company name")
    page.keyboard.type(customer)
    tab_to(page, "Customer website or domain")
    page.keyboard.type(f"keyboard-{width}.example")
    tab_to(page, "Country")
    page.keyboard.type("Germany")
    expect(page.get_by_label("Country")).to_have_value("DE")
    tab_to(page, "Firewall")
    page.keyboard.press("Space")
    expect(page.get_by_label("Firewall")).to_be_checked()
    tab_to(page, "Estimated value")
    page.keyboard.type("52000")
    tab_to(page, "Expected close date")
    # Chromium's date field in the en-US locale: month, day, year.
    page.keyboard.type(f"{close:%m%d%Y}")
    expect(page.get_by_label("Expected close date")).to_have_value(close.isoformat())
    tab_to(page, "Description")
    page.keyboard.type("Firewalls for the warehouses")
    tab_to(page, "Submit for approval")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/deals/DR-[2-9A-Z]{8}/$"))
    code = urlsplit(page.url).path.split("/")[2]
    expect(page.locator(".msg-success")).to_contain_text(f"{code} submitted.")
    assert_accessible(page, console)
    with world.scope():
        registration = DealRegistration.objects.get(code=code)
        assert registration.status == DealRegistration.Status.SUBMITTED
        assert registration.customer_name == customer
        assert registration.customer_domain == f"keyboard-{width}.example"
        assert registration.customer_country == "DE"
        assert registration.estimated_value == Decimal("52000.00")
        assert registration.expected_close_date == close
        assert [p.code for p in registration.product_lines.all()] == ["fw"]


def test_channel_manager_approves_in_the_admin_with_the_keyboard(site):
    world = site.world
    code = site.data["waiting"]
    page, console = site.new_page(Role.CHANNEL_MANAGER)
    page.goto(site.url("/"))
    assert_accessible(page, console)

    skip_to_content(page)
    tab_to(page, "Open the admin")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url("/admin/"))
    assert_accessible(page, console, scroll=False)

    skip_to_content(page)
    tab_to(page, "Deal registrations")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/admin/dealreg/dealregistration/"))
    assert_accessible(page, console, scroll=False)

    skip_to_content(page)
    tab_to(page, code, exact=False)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/admin/dealreg/dealregistration/.+/change/$"))
    assert_accessible(page, console, scroll=False)

    skip_to_content(page)
    tab_to(page, "Note to the partner", exact=False)  # the admin adds a colon
    page.keyboard.type("Approved: go ahead with the warehouses.")
    tab_to(page, "Approve")
    page.keyboard.press("Enter")
    expect(page.locator(".messagelist .success")).to_contain_text(f"{code} approved")
    assert_accessible(page, console, scroll=False)
    with world.scope():
        registration = DealRegistration.objects.get(code=code)
        assert registration.status == DealRegistration.Status.APPROVED
        assert registration.decided_by == world[Role.CHANNEL_MANAGER].user
        assert registration.decision_reason == "Approved: go ahead with the warehouses."
