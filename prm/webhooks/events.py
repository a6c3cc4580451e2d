"""Emitting webhook events: the one function the apps call.

``emit`` is called by a service inside its own transaction, beside the
change it reports: the event and its deliveries are written with the change
and handed to Celery once it commits (the outbox), so a rolled-back change
sends nothing and a committed one is delivered at least once.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from prm.tenancy import outbox, registry
from prm.tenancy.models import Tenant

from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent

# The Celery task that sends one delivery (prm.webhooks.tasks.deliver).
DELIVER_TASK = "webhooks.deliver"
# The event ops send to try an endpoint ("send a test event").
PING = "webhooks.ping"


def emit(
    tenant: Tenant, type: str, data: Mapping[str, Any], *, now: datetime | None = None
) -> WebhookEvent:
    """Send the event ``type`` (a key some app declared in its
    ``webhook_events``) about an object whose API representation is ``data``
    (a JSON-able mapping: Decimals, dates and UUIDs become strings) to every
    active endpoint of ``tenant`` that wants it.

    Call it inside the transaction of the change (a service's
    ``transaction.atomic()``): the event commits or rolls back with it. An
    event no endpoint wants is not stored (the returned event is unsaved)."""
    if type not in registry.webhook_events():
        raise ImproperlyConfigured(
            f"Webhook event {type!r} is not declared: add it to an app's webhook_events."
        )
    endpoints = WebhookEndpoint.objects.filter(
        tenant=tenant, is_active=True, events__contains=[type]
    )
    return send(tenant, type, data, endpoints, now=now)


def send(
    tenant: Tenant,
    type: str,
    data: Mapping[str, Any],
    endpoints: Iterable[WebhookEndpoint],
    *,
    now: datetime | None = None,
) -> WebhookEvent:
    """Write the event ``type`` with one delivery to each of ``endpoints``,
    handed over after commit (``emit`` chooses the endpoints; a test event
    goes to one)."""
    if not isinstance(data, Mapping):
        raise TypeError(f"A webhook event's data is a mapping, not {data.__class__.__name__}.")
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            "emit() runs inside the transaction of the change it reports."
        )
    now = now or timezone.now()
    event = WebhookEvent(tenant=tenant, type=type, data=dict(data), created_at=now)
    targets = list(endpoints)
    if not targets:
        return event
    event.save()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            tenant=tenant, event=event, endpoint=endpoint, next_attempt_at=now, created_at=now
        )
        for endpoint in targets
    )
    outbox.defer_many(
        tenant, DELIVER_TASK, [{"delivery_id": str(delivery.pk)} for delivery in deliveries]
    )
    return event


def emit_many(
    tenant: Tenant,
    type: str,
    datas: Iterable[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> int:
    """``emit`` for many objects of one kind at once (a bulk job's moves):
    one query for the endpoints, and the events and deliveries written in
    bulk. Returns how many events were stored (none when no endpoint wants
    ``type``: the data is not even read)."""
    if type not in registry.webhook_events():
        raise ImproperlyConfigured(
            f"Webhook event {type!r} is not declared: add it to an app's webhook_events."
        )
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            "emit_many() runs inside the transaction of the change it reports."
        )
    targets = list(
        WebhookEndpoint.objects.filter(tenant=tenant, is_active=True, events__contains=[type])
    )
    if not targets:
        return 0
    now = now or timezone.now()
    events = WebhookEvent.objects.bulk_create(
        [WebhookEvent(tenant=tenant, type=type, data=dict(data), created_at=now) for data in datas],
        batch_size=1000,
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                tenant=tenant, event=event, endpoint=endpoint, next_attempt_at=now, created_at=now
            )
            for event in events
            for endpoint in targets
        ],
        batch_size=1000,
    )
    outbox.defer_many(
        tenant, DELIVER_TASK, [{"delivery_id": str(delivery.pk)} for delivery in deliveries]
    )
    return len(events)
