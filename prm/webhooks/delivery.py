"""Delivering webhooks: claim an attempt, send it, record the answer.

A delivery is its own outbox: it stays ``pending`` with a due time
(``next_attempt_at``) until an attempt succeeds or its retries run out, and
the beat's sweep (every minute) sends every due one. So nothing that
committed is lost, whatever happens to the broker or a worker.

One attempt is three steps, and only the middle one talks to the network,
outside any transaction, holding no lock:

1. ``claim`` (a short transaction): the delivery is locked, skipped if
   another worker holds it (``skip_locked``), and must still be pending and
   due; its due time moves ``LEASE`` ahead (an attempt lost with its worker
   is tried again then) and a ``WebhookAttempt`` row is written. Two sweeps,
   or a sweep and the task the commit handed over, never send one delivery
   at once: the second finds it locked or not due.
2. ``send``: the URL is checked again (``safety``: a name re-pointed at a
   private address since it was registered is refused) and the request
   goes to the address checked, signed, cut at ``WEBHOOKS_TIMEOUT``.
3. ``record`` (a short transaction): the attempt's answer; the delivery
   succeeds, or waits ``backoff(attempts)`` (one minute, doubling, at most
   an hour) while its event is under ``RETRY_FOR`` (24 hours) old, and
   fails after. An endpoint with no success for ``DISABLE_AFTER`` (3 days)
   of failed attempts is disabled and its tenant's ops are told.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from prm.broker import kick
from prm.tenancy.models import Tenant
from prm.tenancy.roles import Role
from prm.tenancy.services import notify, staff_with_role

from . import safety, signing, transport
from .events import DELIVER_TASK
from .models import RESPONSE_EXCERPT, WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

State = WebhookDelivery.State

# How long a claimed attempt may take before it counts as lost (its worker
# died) and the delivery is due again: well over the request's timeout.
LEASE = timedelta(minutes=2)
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
# Retries stop this long after the event; the delivery is then failed.
RETRY_FOR = timedelta(hours=24)
# An endpoint whose attempts have all failed for this long is disabled.
DISABLE_AFTER = timedelta(days=3)
DISABLED_KIND = "webhooks.endpoint_disabled"
LOST = "No answer was recorded: the worker stopped or the attempt was lost."


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th attempt failed."""
    return min(FIRST_WAIT * (1 << min(max(attempts - 1, 0), 20)), LONGEST_WAIT)


# --- 1. Claiming --------------------------------------------------------------------


def _start(delivery: WebhookDelivery, now: datetime, *, manual: bool) -> WebhookAttempt:
    """Start an attempt of the locked ``delivery``."""
    # An earlier attempt still open was lost with its worker.
    WebhookAttempt.objects.filter(delivery=delivery, finished_at__isnull=True).update(
        finished_at=now, error=LOST
    )
    delivery.state = State.PENDING
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.next_attempt_at = now + LEASE
    delivery.save(update_fields=["state", "attempts", "last_attempt_at", "next_attempt_at"])
    return WebhookAttempt.objects.create(
        tenant_id=delivery.tenant_id,
        delivery=delivery,
        number=delivery.attempts,
        manual=manual,
        started_at=now,
        url=delivery.endpoint.url,
    )


def _claim_locked(rows: QuerySet[WebhookDelivery], now: datetime) -> list[WebhookAttempt]:
    started = []
    for delivery in rows:
        if not delivery.endpoint.is_active:
            delivery.state = State.FAILED
            delivery.next_attempt_at = None
            delivery.error = "Not sent: the endpoint is disabled."
            delivery.save(update_fields=["state", "next_attempt_at", "error"])
            continue
        started.append(_start(delivery, now, manual=False))
    return started


def _due() -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        state=State.PENDING
    )


def claim(delivery_id: str, now: datetime | None = None) -> WebhookAttempt | None:
    """Start an attempt of the delivery if it is pending, due and free."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = _due().select_related("endpoint").filter(pk=delivery_id, next_attempt_at__lte=now)
        started = _claim_locked(rows, now)
    return started[0] if started else None


def sweep(now: datetime | None = None, limit: int = 200) -> int:
    """Start an attempt of every due delivery (the oldest due first, up to
    ``limit``, of active tenants) and hand each to a worker. A hand-over the
    broker refuses is tried again once its lease is over. Platform-level."""
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        rows = (
            _due()
            .select_related("endpoint")
            .filter(next_attempt_at__lte=now, tenant__is_active=True)
            .order_by("next_attempt_at")[:limit]
        )
        started = _claim_locked(rows, now)
    for attempt in started:
        kick(
            DELIVER_TASK,
            tenant_id=str(attempt.tenant_id),
            delivery_id=str(attempt.delivery_id),
            attempt_id=str(attempt.pk),
        )
    return len(started)


def start_manual(delivery: WebhookDelivery, now: datetime) -> WebhookAttempt | None:
    """Start an attempt of ``delivery`` now, whatever its state (send again,
    a test event): None while another attempt of it is under way."""
    with transaction.atomic():
        locked = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .get(pk=delivery.pk)
        )
        busy = WebhookAttempt.objects.filter(
            delivery=locked, finished_at__isnull=True, started_at__gt=now - LEASE
        )
        if busy.exists():
            return None
        return _start(locked, now, manual=True)


# --- 2. Sending ----------------------------------------------------------------------


def send(attempt: WebhookAttempt, now: datetime | None = None) -> WebhookAttempt:
    """Send the claimed ``attempt`` and record its answer. No transaction
    may be open here: the request waits for the network."""
    delivery = (
        WebhookDelivery.objects.select_related("endpoint", "event")
        .filter(pk=attempt.delivery_id)
        .first()
    )
    if delivery is None:
        return attempt  # the endpoint was deleted meanwhile, with its log
    endpoint, event = delivery.endpoint, delivery.event
    now = now or timezone.now()
    body = event.body()
    headers = signing.headers(
        event_id=str(event.pk),
        event_type=event.type,
        secrets=endpoint.signing_secrets(now),
        timestamp=int(now.timestamp()),
        body=body,
    )
    try:
        target = safety.check(attempt.url)
    except safety.UnsafeURL as refused:
        outcome = transport.Outcome(
            status=None, body="", error=f"Not sent: {refused}", duration_ms=0
        )
        address = ""
    else:
        address = target.address
        outcome = transport.post(
            target,
            body,
            headers,
            connect_timeout=settings.WEBHOOKS_CONNECT_TIMEOUT,
            timeout=settings.WEBHOOKS_TIMEOUT,
        )
    return record(attempt, outcome, headers=headers, address=address)


def send_claimed(attempt_id: str) -> WebhookAttempt | None:
    """Send an attempt a sweep claimed, if it is still the delivery's open
    attempt and its lease has time left for the request (else the sweep
    claims the delivery again later)."""
    attempt = WebhookAttempt.objects.filter(pk=attempt_id, finished_at__isnull=True).first()
    if attempt is None:
        return None
    margin = timedelta(seconds=settings.WEBHOOKS_TIMEOUT + 5)
    if timezone.now() > attempt.started_at + LEASE - margin:
        return None  # too late: the lease ends before the request could
    return send(attempt)


# --- 3. Recording --------------------------------------------------------------------


def record(
    attempt: WebhookAttempt,
    outcome: transport.Outcome,
    *,
    headers: dict[str, str],
    address: str,
    now: datetime | None = None,
) -> WebhookAttempt:
    """Write ``attempt``'s answer and move its delivery on."""
    now = now or timezone.now()
    excerpt = outcome.body[:RESPONSE_EXCERPT]
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(pk=attempt.delivery_id)
            .first()
        )
        if delivery is None:
            return attempt  # the endpoint was deleted meanwhile, with its log
        attempt.finished_at = now
        attempt.address = address
        attempt.request_headers = headers
        attempt.response_code = outcome.status
        attempt.response_body = excerpt
        attempt.error = outcome.error
        attempt.duration_ms = outcome.duration_ms
        attempt.save()
        if delivery.attempts != attempt.number:
            return attempt  # a later attempt took over; it moves the delivery on
        delivery.response_code = outcome.status
        delivery.response_body = excerpt
        delivery.error = outcome.error
        delivery.duration_ms = outcome.duration_ms
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        if outcome.succeeded:
            delivery.state = State.SUCCEEDED
            delivery.next_attempt_at = None
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since"])
        else:
            _count_failure(endpoint, now)  # (may disable it)
            retry_at = now + backoff(delivery.attempts)
            if retry_at <= delivery.event.created_at + RETRY_FOR and endpoint.is_active:
                delivery.state, delivery.next_attempt_at = State.PENDING, retry_at
            else:
                delivery.state, delivery.next_attempt_at = State.FAILED, None
        delivery.save()
    return attempt


def _count_failure(endpoint: WebhookEndpoint, now: datetime) -> None:
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
    elif endpoint.is_active and now - endpoint.failing_since >= DISABLE_AFTER:
        since = timezone.localtime(endpoint.failing_since, endpoint.tenant.tzinfo)
        disable(endpoint, now, f"Every attempt since {since:%Y-%m-%d %H:%M} failed.")


def disable(endpoint: WebhookEndpoint, now: datetime, reason: str) -> None:
    """Stop sending to ``endpoint`` (its pending deliveries fail) and tell
    the tenant's ops."""
    endpoint.is_active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:300]
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
    # Deliveries another worker is recording are skipped, not waited for (it
    # waits for this endpoint's row): it finds the endpoint disabled after.
    pending = WebhookDelivery.objects.select_for_update(skip_locked=True).filter(
        endpoint=endpoint, state=State.PENDING
    )
    WebhookDelivery.objects.filter(pk__in=list(pending.values_list("pk", flat=True))).update(
        state=State.FAILED, next_attempt_at=None, error="Not sent: the endpoint is disabled."
    )
    tenant: Tenant = endpoint.tenant
    notify(
        tenant,
        staff_with_role(Role.OPS_ADMIN),
        kind=DISABLED_KIND,
        title=f"Webhook endpoint disabled: {endpoint.url}"[:200],
        body=(
            f"{reason} No more events are sent to it until it is enabled again; "
            "the delivery log shows the answers it gave."
        ),
        url=reverse("tenant_admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
        about=endpoint,
    )
    log.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)
