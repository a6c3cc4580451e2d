"""The closed loop's first link (mdf.sourcing through dealreg.extensions):
the partner's registration form names the funded activity that sourced the
deal, chosen among the partner's own activities only."""

import uuid
from datetime import date, timedelta

import pytest

from dealreg.models import DealRegistration, ProductLine
from mdf import roi
from mdf.models import FundRequest, SourcedDeal
from prm.tenancy.roles import Role

from . import roi_factories as f

pytestmark = pytest.mark.django_db

NEW = "/deals/new/"
FIELD = "mdf_source"


def form_data(**overrides) -> dict:
    data = {
        "client_token": str(uuid.uuid4()),
        "customer_name": "Initech Corporation",
        "customer_domain": "initech.example",
        "customer_country": "US",
        "customer_region": "",
        "estimated_value": "25000.00",
        "currency": "USD",
        "expected_close_date": (date.today() + timedelta(days=45)).isoformat(),
        "description": "Firewall refresh",
        "action": "save",
    }
    data.update(overrides)
    return data


@pytest.fixture
def activities(acme, globex):
    """An approved activity of acme's partner, a draft of it, one of acme's
    other partner and one of globex's partner."""
    made = {}
    for world in (acme, globex):
        with world.scope():
            ProductLine.objects.create(tenant=world.tenant, name="Firewall", code="fw")
            budget = f.make_budget(world, f.make_fund_type(world))
            mine = f.make_allocation(world, budget)
            made[world.tenant.slug] = f.make_request(world, mine, title="Spring event")
            if world is acme:
                f.make_request(world, mine, status=FundRequest.Status.DRAFT, title="Draft")
                theirs = f.make_allocation(world, budget, partner=world.other_partner)
                made["other"] = f.make_request(world, theirs, title="Their event")
    return made


def test_no_field_without_funded_activities(acme):
    response = acme.client(Role.PARTNER_USER).get(NEW)
    assert response.status_code == 200
    assert FIELD not in response.context["form"].fields


def test_the_field_offers_only_the_partners_own_funded_activities(acme, activities):
    response = acme.client(Role.PARTNER_USER).get(NEW)
    field = response.context["form"].fields[FIELD]
    with acme.scope():
        assert list(field.queryset) == [activities["acme"]]
    assert b"Marketing activity that sourced this deal" in response.content


@pytest.mark.parametrize("whose", ["other", "globex"])
def test_another_partners_activity_is_refused_and_nothing_saved(acme, activities, whose):
    with acme.scope():
        before = DealRegistration.objects.count()
    response = acme.client(Role.PARTNER_USER).post(
        NEW, form_data(**{FIELD: str(activities[whose].pk)})
    )
    assert response.status_code == 400
    assert response.context["form"].errors[FIELD] == [
        "Choose one of your own funded marketing activities."
    ]
    with acme.scope():
        assert DealRegistration.objects.count() == before
        assert not SourcedDeal.objects.exists()


def test_the_link_is_saved_replaced_and_removed(acme, activities):
    client = acme.client(Role.PARTNER_USER)
    event = activities["acme"]
    response = client.post(NEW, form_data(**{FIELD: str(event.pk)}))
    assert response.status_code == 302
    with acme.scope():
        registration = DealRegistration.objects.get()
        assert SourcedDeal.objects.get().request == event
        (row,) = [r for r in roi.roi_rows(acme.tenant) if r.key == event.pk]
        assert row.registrations == 1
        assert list(roi.sourced_registrations(acme.tenant, requests=[event.pk])) == [registration]
        second = f.make_request(acme, event.allocation, title="Webinar")
    edit = f"/deals/{registration.code}/edit/"
    assert client.get(edit).context["form"][FIELD].value() == event.pk
    assert client.post(edit, form_data(**{FIELD: str(second.pk)})).status_code == 302
    with acme.scope():
        assert SourcedDeal.objects.get().request == second
    assert client.post(edit, form_data(**{FIELD: ""})).status_code == 302
    with acme.scope():
        assert not SourcedDeal.objects.exists()


def test_submitting_links_the_registration_submitted(acme, activities):
    with acme.scope():
        line = ProductLine.objects.get(code="fw")
    response = acme.client(Role.PARTNER_USER).post(
        NEW,
        form_data(
            action="submit", product_lines=[str(line.pk)], **{FIELD: str(activities["acme"].pk)}
        ),
    )
    assert response.status_code == 302
    with acme.scope():
        registration = DealRegistration.objects.get()
        assert registration.status == DealRegistration.Status.SUBMITTED
        assert SourcedDeal.objects.get().registration == registration
