"""What ops do with webhook endpoints: register one (its secret shown once),
change it, roll its secret, send it a test event, enable it again, and send
a delivery again. Each is audited; the secret never is."""

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from prm.tenancy import outbox, registry
from prm.tenancy.errors import ServiceError
from prm.tenancy.models import User
from prm.tenancy.services import audit, once

from . import delivery, safety
from .events import DELIVER_TASK, PING
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

# A rolled secret keeps signing beside the new one this long.
ROLL_OVERLAP = timedelta(hours=24)


class WebhooksError(ServiceError):
    """A refused webhooks operation."""


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def subscribable_events() -> dict[str, str]:
    """Event key -> description of the events an endpoint may ask for (the
    test event is sent on request only)."""
    return {
        key: event.description for key, event in registry.webhook_events().items() if key != PING
    }


def checked_url(url: str) -> str:
    try:
        safety.check(url)
    except safety.UnsafeURL as error:
        raise WebhooksError(str(error), field="url") from None
    return url.strip()


def checked_events(events: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(events))
    known = subscribable_events()
    unknown = [key for key in wanted if key not in known]
    if unknown:
        raise WebhooksError(f"No such event: {', '.join(unknown)}.", field="events")
    if not wanted:
        raise WebhooksError("Choose at least one event.", field="events")
    return [key for key in known if key in wanted]  # in the declared order


def add_endpoint(endpoint: WebhookEndpoint, *, by: User, token: str | None = None) -> str:
    """Register the unsaved ``endpoint`` (its URL, events and description
    set; its URL checked again here) with a new secret, which is returned:
    shown to ops once, on the next page, and never again. The same form
    sent twice (same ``token``) adds one endpoint (``AlreadyDone``)."""
    endpoint.url = checked_url(endpoint.url)
    endpoint.events = checked_events(endpoint.events)
    endpoint.secret = new_secret()
    endpoint.created_by = by
    key = f"webhooks.endpoint-add:{token}" if token else ""
    with transaction.atomic(), once(endpoint.tenant, key) as once_key:
        endpoint.save(force_insert=True)
        audit(
            endpoint.tenant,
            by=by,
            action="webhooks.endpoint_added",
            obj=endpoint,
            data=_shown(endpoint),
            once_key=once_key,
        )
    return endpoint.secret


def change_endpoint(endpoint: WebhookEndpoint, *, by: User, changed: Iterable[str]) -> None:
    """Save ops' change of where ``endpoint`` is and what it receives (the
    URL is checked again)."""
    endpoint.url = checked_url(endpoint.url)
    endpoint.events = checked_events(endpoint.events)
    with transaction.atomic():
        endpoint.save(update_fields=["url", "events", "description"])
        data = {**_shown(endpoint), "changed": sorted(changed)}
        audit(endpoint.tenant, by=by, action="webhooks.endpoint_changed", obj=endpoint, data=data)


def _shown(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "events": list(endpoint.events)}


def roll_secret(endpoint: WebhookEndpoint, *, by: User, now: datetime | None = None) -> str:
    """A new secret for ``endpoint`` (returned, to show once); the old one
    keeps signing beside it for ``ROLL_OVERLAP`` while receivers switch."""
    now = now or timezone.now()
    secret = new_secret()
    with transaction.atomic():
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_until = now + ROLL_OVERLAP
        endpoint.secret = secret
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
        audit(endpoint.tenant, by=by, action="webhooks.secret_rolled", obj=endpoint, now=now)
    return secret


def enable(endpoint: WebhookEndpoint, *, by: User, now: datetime | None = None) -> None:
    """Send to a disabled endpoint again (from the next event on; what
    failed meanwhile is sent again from its delivery log)."""
    if endpoint.is_active:
        raise WebhooksError("This endpoint is enabled already.")
    with transaction.atomic():
        endpoint.is_active = True
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
        endpoint.save(
            update_fields=["is_active", "disabled_at", "disabled_reason", "failing_since"]
        )
        audit(endpoint.tenant, by=by, action="webhooks.endpoint_enabled", obj=endpoint, now=now)


def send_test_event(
    endpoint: WebhookEndpoint, *, by: User, now: datetime | None = None
) -> WebhookDelivery:
    """Send ``webhooks.ping`` to ``endpoint`` alone, now (also to a
    disabled one: to try it before enabling it again)."""
    now = now or timezone.now()
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            tenant=endpoint.tenant,
            type=PING,
            data={"endpoint": str(endpoint.pk), "url": endpoint.url, "sent_by": by.email},
            created_at=now,
        )
        sent = WebhookDelivery.objects.create(
            tenant=endpoint.tenant, event=event, endpoint=endpoint, next_attempt_at=now
        )
        _attempt_now(sent, now)
        audit(endpoint.tenant, by=by, action="webhooks.test_sent", obj=endpoint, now=now)
    return sent


def send_again(sent: WebhookDelivery, *, by: User, now: datetime | None = None) -> WebhookAttempt:
    """A new attempt of ``sent`` now, whatever its state (a failed
    delivery, or one the receiver lost)."""
    now = now or timezone.now()
    with transaction.atomic():
        attempt = _attempt_now(sent, now)
        audit(
            sent.tenant,
            by=by,
            action="webhooks.sent_again",
            obj=sent.endpoint,
            data={"event": str(sent.event_id), "type": sent.event.type},
            now=now,
        )
    return attempt


def _attempt_now(sent: WebhookDelivery, now: datetime) -> WebhookAttempt:
    attempt = delivery.start_manual(sent, now)
    if attempt is None:
        raise WebhooksError("An attempt of this delivery is under way: wait for its answer.")
    outbox.defer(sent.tenant, DELIVER_TASK, delivery_id=str(sent.pk), attempt_id=str(attempt.pk))
    return attempt


def delete_endpoint(endpoint: WebhookEndpoint, *, by: User) -> None:
    """Remove ``endpoint`` with its delivery log (its events stay for the
    other endpoints, until purged)."""
    with transaction.atomic():
        audit(endpoint.tenant, by=by, action="webhooks.endpoint_deleted", obj=endpoint)
        endpoint.delete()
