"""Emitting events (prm.webhooks.events.emit): written in the change's own
transaction, one delivery per active endpoint that wants the event, handed
to Celery through the outbox after commit; declared event types only."""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django_scopes import scopes_disabled

from prm.tenancy import registry
from prm.tenancy.declarations import PRMApp, WebhookEvent
from prm.tenancy.models import OutboxMessage
from prm.webhooks import events
from prm.webhooks.models import WebhookDelivery
from prm.webhooks.models import WebhookEvent as Event

from .conftest import SAMPLE, make_endpoint

pytestmark = pytest.mark.django_db


def test_the_apps_declare_their_events():
    declared = registry.webhook_events()
    assert declared["webhooks.ping"].description.startswith("A test event")
    assert declared[SAMPLE] == WebhookEvent(SAMPLE, "Something happened to a sample")


def test_an_event_key_is_declared_once_and_reads_like_one(monkeypatch):
    def declared(*apps):
        monkeypatch.setattr(registry, "declared_apps", lambda: apps)
        registry.webhook_events.cache_clear()
        return registry.webhook_events()

    try:
        twice = WebhookEvent("deal.won", "A deal was won")
        with pytest.raises(ImproperlyConfigured, match=r"'deal\.won' is declared twice"):
            declared(PRMApp("a", webhook_events=(twice,)), PRMApp("b", webhook_events=(twice,)))
        with pytest.raises(ImproperlyConfigured, match="lowercase words joined by dots"):
            declared(PRMApp("a", webhook_events=(WebhookEvent("Deal Won", "x"),)))
        with pytest.raises(ImproperlyConfigured, match="lowercase words joined by dots"):
            declared(PRMApp("a", webhook_events=(WebhookEvent("won", "x"),)))
    finally:
        registry.webhook_events.cache_clear()


def test_an_undeclared_type_is_refused_and_writes_nothing(acme):
    with acme.scope():
        make_endpoint(acme.tenant, events=("sample.unknown",))
        with pytest.raises(ImproperlyConfigured, match=r"'sample\.unknown' is not declared"):
            events.emit(acme.tenant, "sample.unknown", {"id": "1"})
        assert not Event.objects.exists()


def test_data_must_be_a_mapping(acme):
    with acme.scope():
        make_endpoint(acme.tenant)
        with pytest.raises(TypeError, match="a mapping, not list"):
            events.emit(acme.tenant, SAMPLE, ["not", "a", "dict"])  # type: ignore[arg-type]
        assert not Event.objects.exists()


def test_a_rolled_back_change_sends_nothing(acme, django_capture_on_commit_callbacks):
    with acme.scope():
        make_endpoint(acme.tenant)
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
            assert WebhookDelivery.objects.count() == 1
            raise RuntimeError("the change fails")
        assert callbacks == []
        assert not Event.objects.exists()
        assert not WebhookDelivery.objects.exists()
        assert not OutboxMessage.objects.filter(task=events.DELIVER_TASK).exists()


def test_one_delivery_per_active_endpoint_that_wants_it_handed_over_by_the_outbox(
    acme, globex, django_capture_on_commit_callbacks
):
    with globex.scope():
        make_endpoint(globex.tenant, "https://globex.example.com/hook")
    with acme.scope():
        wants = make_endpoint(acme.tenant, "https://a.example.com/hook", (SAMPLE, "webhooks.ping"))
        also = make_endpoint(acme.tenant, "https://b.example.com/hook")
        make_endpoint(acme.tenant, "https://c.example.com/hook", ("webhooks.ping",))
        make_endpoint(acme.tenant, "https://d.example.com/hook", is_active=False)
        with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
            event = events.emit(acme.tenant, SAMPLE, {"id": "s-1", "amount": Decimal("12.50")})
        assert len(callbacks) == 1  # the outbox's hand-over, after commit
        deliveries = WebhookDelivery.objects.filter(event=event)
        assert {d.endpoint_id for d in deliveries} == {wants.pk, also.pk}
        assert {d.state for d in deliveries} == {WebhookDelivery.State.PENDING}
        assert all(d.next_attempt_at == event.created_at for d in deliveries)
        messages = OutboxMessage.objects.filter(task=events.DELIVER_TASK)
        assert sorted(m.kwargs["delivery_id"] for m in messages) == sorted(
            str(d.pk) for d in deliveries
        )
    with scopes_disabled():
        assert Event.objects.count() == 1  # none for globex


def test_the_envelope_names_the_event_and_carries_the_object(acme):
    with acme.scope():
        make_endpoint(acme.tenant)
        event = events.emit(acme.tenant, SAMPLE, {"id": "s-1", "amount": Decimal("12.50")})
        stored = Event.objects.get(pk=event.pk)
    body = json.loads(stored.body())
    assert body == {
        "id": str(event.pk),
        "type": SAMPLE,
        "created": stored.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "api_version": "v1",
        "data": {"object": {"id": "s-1", "amount": "12.50"}},
    }
    assert stored.body() == stored.body()  # the same bytes on every attempt


def test_an_event_nobody_wants_is_not_stored(acme):
    with acme.scope():
        make_endpoint(acme.tenant, events=("webhooks.ping",))
        event = events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
        assert event.type == SAMPLE and event._state.adding
        assert not Event.objects.exists()


def test_deliveries_stay_in_their_tenant():
    """The deliveries' foreign keys are composite (tenant, id) keys."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conname LIKE 'webhook%%tenant_fk' ORDER BY conname"
        )
        found = dict(cursor.fetchall())
    assert found == {
        "webhookattempt_delivery_tenant_fk": (
            "FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhooks_webhookdelivery"
            "(tenant_id, id) DEFERRABLE INITIALLY DEFERRED"
        ),
        "webhookdelivery_endpoint_tenant_fk": (
            "FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhooks_webhookendpoint"
            "(tenant_id, id) DEFERRABLE INITIALLY DEFERRED"
        ),
        "webhookdelivery_event_tenant_fk": (
            "FOREIGN KEY (tenant_id, event_id) REFERENCES webhooks_webhookevent"
            "(tenant_id, id) DEFERRABLE INITIALLY DEFERRED"
        ),
    }
