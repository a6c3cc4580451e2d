"""An activity's closed loop on its page (sourced deals, leads, ROI once
its claim is approved) and the leads upload: a dry run with per-row errors,
then all rows or none."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dealreg.models import DealRegistration
from mdf import claims
from mdf.models import ActivityLead, SourcedDeal
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def approved(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("10000"))
        return b.approved(acme, alloc, amount=D("2000"))


def won_deal(world, amount):
    return DealRegistration.objects.create(
        tenant=world.tenant,
        partner=world.partner,
        submitted_by=world[Role.PARTNER_USER].user,
        customer_name="Initech",
        customer_name_normalized="initech",
        customer_country="US",
        estimated_value=D(amount),
        currency="USD",
        expected_close_date=world.tenant.local_today(),
        status=DealRegistration.Status.WON,
        won_amount=D(amount),
        won_currency="USD",
        won_close_date=world.tenant.local_today(),
    )


def test_roi_shows_once_the_claim_is_approved(acme, approved):
    with acme.scope():
        deal = won_deal(acme, "50000")
        SourcedDeal.objects.create(tenant=acme.tenant, registration=deal, request=approved)
    client = acme.client(Role.PARTNER_USER)
    url = f"/funds/requests/{approved.code}/"
    page = client.get(url).content.decode()
    assert "50,000.00 USD" in page and deal.code in page
    assert 'data-testid="roi"' not in page  # no spend yet
    with acme.scope():
        claim = b.submitted_claim(acme, approved, amount=D("2000"))
        claims.approve_claim(claim, by=acme[Role.FINANCE])
    response = client.get(url)
    row = response.context["figures"]["row"]
    assert row.vendor_spend == D("2000") and row.spent == D("4000")
    assert row.roi == D("25.00")
    page = response.content.decode()
    assert 'data-testid="roi"' in page and "25.00 \N{MULTIPLICATION SIGN}" in page


def csv_file(text):
    return SimpleUploadedFile("leads.csv", text.encode(), content_type="text/csv")


def test_leads_upload_checks_first_then_imports_all(acme, approved):
    client = acme.client(Role.PARTNER_USER)
    url = f"/funds/requests/{approved.code}/leads/"
    assert client.get(url).status_code == 200
    bad = (
        "name,email,company\n"
        "Ada,ada@example.test,Initech\nBob,not-an-email,\nAda 2,ADA@example.test,\n"
    )
    response = client.post(url, {"file": csv_file(bad)})
    page = response.content.decode()
    assert response.status_code == 200 and response.context["token"] == ""
    assert "is not an email address" in page and "already on line 2" in page
    with acme.scope():
        assert not ActivityLead.objects.exists()
    good = "name,email,company\nAda,ada@example.test,Initech\nBob,bob@example.test,\n"
    response = client.post(url, {"file": csv_file(good)})
    token = response.context["token"]
    assert token and "Import 2 leads" in response.content.decode()
    with acme.scope():
        assert not ActivityLead.objects.exists()  # the dry run writes nothing
    response = client.post(url, {"token": token})
    assert response.status_code == 302
    with acme.scope():
        assert ActivityLead.objects.filter(request=approved).count() == 2
    # a token is used once
    response = client.post(url, {"token": token}, follow=True)
    assert "expired" in response.content.decode()
    with acme.scope():
        assert ActivityLead.objects.count() == 2


def test_leads_are_for_approved_activities(acme):
    with acme.scope():
        pending = b.submitted(acme, b.allocation(acme, D("10000")))
    response = acme.client(Role.PARTNER_USER).get(f"/funds/requests/{pending.code}/leads/")
    assert response.status_code == 302
