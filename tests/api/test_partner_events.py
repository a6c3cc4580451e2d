"""The partner directory's webhook events: partner.created and
partner.tier_changed, written with the change (by the API, the services or
the tier evaluation's bulk moves) and only when an endpoint wants them."""

import pytest

from prm.tenancy.roles import Role
from prm.webhooks.models import WebhookDelivery, WebhookEvent
from tests.webhooks.conftest import make_endpoint

pytestmark = pytest.mark.django_db
EVENTS = ("partner.created", "partner.tier_changed")


def events(world, type_):
    with world.scope():
        return list(WebhookEvent.objects.filter(type=type_).order_by("created_at"))


def test_created_through_the_api_sends_the_partner(acme, api):
    with acme.scope():
        endpoint = make_endpoint(acme.tenant, events=EVENTS)
        tier_id = str(acme.partner.tier_id)
    client = api(acme, Role.OPS_ADMIN)
    body = {"name": "Contoso", "type": "msp", "country": "FR", "tier": tier_id}
    created = client.post("/api/v1/partners/", body)
    assert created.status_code == 201
    [event] = events(acme, "partner.created")
    assert event.data == created.json()
    with acme.scope():
        assert WebhookDelivery.objects.get(event=event).endpoint == endpoint
    # A refused create (the same name again) sends nothing.
    assert client.post("/api/v1/partners/", body).status_code == 422
    assert len(events(acme, "partner.created")) == 1


def test_a_tier_change_sends_the_dated_move(acme, api):
    with acme.scope():
        make_endpoint(acme.tenant, events=("partner.tier_changed",))
        silver = acme.partner.tier.__class__.objects.get(name="Silver")
        gold_id = acme.partner.tier_id
    client = api(acme, Role.OPS_ADMIN)
    url = f"/api/v1/partners/{acme.partner.pk}/"
    assert client.patch(url, {"tier": str(silver.pk)}).status_code == 200
    [event] = events(acme, "partner.tier_changed")
    assert event.data["partner"]["id"] == str(acme.partner.pk)
    assert event.data["tier"]["name"] == "Silver"
    assert event.data["previous"]["id"] == str(gold_id)
    assert event.data["reason"] == "manual"
    listed = client.get("/api/v1/tier-changes/", {"partner": str(acme.partner.pk)}).json()
    assert event.data["id"] in {row["id"] for row in listed["results"]}
    # A change that is not a move (the same tier) sends nothing more.
    assert client.patch(url, {"tier": str(silver.pk)}).status_code == 200
    assert len(events(acme, "partner.tier_changed")) == 1


def test_no_endpoint_no_event(acme, api):
    client = api(acme, Role.OPS_ADMIN)
    with acme.scope():
        tier_id = str(acme.partner.tier_id)
    body = {"name": "Fabrikam", "type": "msp", "country": "FR", "tier": tier_id}
    assert client.post("/api/v1/partners/", body).status_code == 201
    with acme.scope():
        assert not WebhookEvent.objects.exists()
