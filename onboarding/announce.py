"""Webhook events from services that also run in bulk (a training import
records thousands of rows, the demo dozens): ``announce`` sends an event
as ``prm.webhooks.events.emit`` does, in the caller's transaction, but
builds its payload (the object's API representation, which costs queries)
only when an endpoint wants the event; inside ``batch`` the endpoints that
want an event are read once for the whole batch instead of once per row."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from prm.tenancy import registry
from prm.tenancy.models import Tenant
from prm.webhooks.events import send
from prm.webhooks.models import WebhookEndpoint

# (tenant id, event type) → the endpoints that want it, inside ``batch``.
_BATCH: ContextVar[dict[tuple[Any, str], list[WebhookEndpoint]] | None] = ContextVar(
    "onboarding_announce_batch", default=None
)


def _wanting(tenant: Tenant, type: str) -> list[WebhookEndpoint]:
    """The tenant's active endpoints subscribed to ``type`` (as ``emit`` picks them)."""
    return list(
        WebhookEndpoint.objects.filter(tenant=tenant, is_active=True, events__contains=[type])
    )


def announce(tenant: Tenant, type: str, build: Callable[[], Mapping[str, Any]]) -> None:
    """Send the event ``type`` with the payload ``build()`` to the endpoints
    that want it; nothing is built or written when none does."""
    if type not in registry.webhook_events():
        raise ImproperlyConfigured(
            f"Webhook event {type!r} is not declared: add it to an app's webhook_events."
        )
    cached = _BATCH.get() or {}
    key = (tenant.pk, type)
    endpoints = cached[key] if key in cached else _wanting(tenant, type)
    if endpoints:
        send(tenant, type, build(), endpoints)


@contextmanager
def batch(tenant: Tenant, *types: str) -> Iterator[None]:
    """Read the endpoints wanting ``types`` once for the writes inside (one
    request or job: an endpoint added meanwhile gets the next batch's)."""
    found = {(tenant.pk, type): _wanting(tenant, type) for type in types}
    token = _BATCH.set({**(_BATCH.get() or {}), **found})
    try:
        yield
    finally:
        _BATCH.reset(token)
