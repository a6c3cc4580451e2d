"""Deal registration's webhook events (declared in ``declare.py``), sent by
the services inside the transaction of the change they report. The payload
is the object's API representation as staff read it (``serializers``).

Each goes through ``emit_many``: one query for the endpoints that want the
event, and nothing read or serialized when none does (a registration's
representation costs a few queries; most changes have no endpoint)."""

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prm.tenancy.declarations import WebhookEvent
from prm.tenancy.models import Tenant
from prm.webhooks.events import emit_many

from .models import Conflict, DealRegistration
from .serializers import (
    ConflictSerializer,
    RegistrationSerializer,
    conflicts_with_related,
    with_related,
)

SUBMITTED = "registration.submitted"
INFORMATION_REQUESTED = "registration.information_requested"
APPROVED = "registration.approved"
REJECTED = "registration.rejected"
EXPIRED = "registration.expired"
WON = "registration.won"
LOST = "registration.lost"
CONFLICT_FOUND = "conflict.found"

WEBHOOK_EVENTS = (
    WebhookEvent(SUBMITTED, "A partner submitted a deal registration"),
    WebhookEvent(
        INFORMATION_REQUESTED, "The vendor asked the partner for more information on a registration"
    ),
    WebhookEvent(APPROVED, "A deal registration was approved (by a person or the SLA policy)"),
    WebhookEvent(REJECTED, "A deal registration was rejected"),
    WebhookEvent(EXPIRED, "An approved registration's protection ended"),
    WebhookEvent(WON, "A registered deal was recorded as won"),
    WebhookEvent(LOST, "A registered deal was recorded as lost"),
    WebhookEvent(
        CONFLICT_FOUND,
        "A registration's conflict check found another claim on its customer "
        "(another partner's registration or a direct opportunity)",
    ),
)


def _representations(registrations: list[DealRegistration]) -> Iterator[dict[str, Any]]:
    """Each registration as the API reads it, fetched afresh in one go."""
    fresh = {
        r.pk: r
        for r in with_related(DealRegistration.objects.filter(pk__in=[r.pk for r in registrations]))
    }
    for registration in registrations:
        yield RegistrationSerializer(fresh[registration.pk]).data


class _Lazy:
    """An iterable read only when ``emit_many`` found an endpoint."""

    def __init__(self, produce: Any) -> None:
        self.produce = produce

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.produce())


def registration_changed(
    registration: DealRegistration, type: str, *, now: datetime | None = None
) -> None:
    """Send ``type`` about ``registration`` as it now is (call after saving it)."""
    registrations_changed(registration.tenant, type, [registration], now=now)


def registrations_changed(
    tenant: Tenant,
    type: str,
    registrations: Iterable[DealRegistration],
    *,
    now: datetime | None = None,
) -> int:
    """``registration_changed`` for a batch (a sweep's expiries): one
    endpoint query and one read of the batch."""
    batch = list(registrations)
    if not batch:
        return 0
    return emit_many(tenant, type, _Lazy(lambda: _representations(batch)), now=now)


def conflicts_found(
    tenant: Tenant, conflicts: Iterable[Conflict], *, now: datetime | None = None
) -> int:
    """``conflict.found`` for each of ``conflicts`` (stored, new to their
    registration's check)."""
    found = [c.pk for c in conflicts]
    if not found:
        return 0

    def produce() -> Iterator[dict[str, Any]]:
        rows = conflicts_with_related(Conflict.objects.filter(pk__in=found)).order_by("-score")
        return (ConflictSerializer(c).data for c in rows)

    return emit_many(tenant, CONFLICT_FOUND, _Lazy(produce), now=now)
