"""Deal registration's daily figures in reporting's rollups (``FactSource``):
what its metrics count, per partner and calendar day in the tenant's time
zone, so dashboards read the rollups instead of the registrations.

Each figure is counted on the day its metric places it: a submission on the
day it was submitted, a decision on the day it was decided, a win on its
close date, a loss on the day it was recorded. The vendor's direct pipeline
has no partner (rows of partner None).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, DateTimeField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from prm.tenancy.declarations import FactRow, FactSource, Measurement
from prm.tenancy.models import Tenant

from .metrics import APPROVED, had_conflict, turnaround
from .models import Conflict, DealRegistration, DirectOpportunity

Status = DealRegistration.Status

FACTS = (
    "submitted",
    "conflicted",
    "decided",
    "approved",
    "sla_met",
    "approved_value",
    "approved_won",
    "won",
    "closed",
    "won_revenue",
    "open_pipeline",
    "direct_open",
    "direct_won",
)


def _local_start(tenant: Tenant, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tenant.timezone))


def _grouped(
    rows: QuerySet[Any], day: Any, since_q: Q, **values: Any
) -> Iterator[tuple[Any, date, dict[str, Any]]]:
    found = (
        rows.filter(since_q)
        .annotate(day=day)
        .values("partner_id", "day")
        .annotate(**values)
        .order_by()
    )
    for row in found:
        partner, day_value = row.pop("partner_id"), row.pop("day")
        yield partner, day_value, row


def compute(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> Iterator[FactRow]:
    zone = ZoneInfo(tenant.timezone)
    base = tenant.base_currency
    registrations = DealRegistration.objects.filter(tenant_id=tenant.pk)
    if partner_ids is not None:
        registrations = registrations.filter(partner_id__in=[p for p in partner_ids if p])
    start = _local_start(tenant, since) if since else None

    def after(field: str) -> Q:
        return Q(**{f"{field}__gte": start}) if start else Q()

    yield from _rows(
        _grouped(
            registrations.filter(submitted_at__isnull=False),
            TruncDate("submitted_at", tzinfo=zone),
            after("submitted_at"),
            submitted=Count("pk"),
            conflicted=Count("pk", filter=had_conflict()),
        )
    )
    yield from _rows(
        _grouped(
            registrations.filter(decided_at__isnull=False),
            TruncDate("decided_at", tzinfo=zone),
            after("decided_at"),
            decided=Count("pk"),
            approved=Count("pk", filter=APPROVED),
            sla_met=Count("pk", filter=Q(sla_met=True)),
            approved_value=Sum("estimated_value", filter=APPROVED & Q(currency=base)),
            approved_won=Count("pk", filter=APPROVED & Q(status=Status.WON)),
        )
    )
    yield from _rows(
        _grouped(
            registrations.filter(status__in=[Status.WON, Status.REVERSED]),
            TruncDate("won_close_date"),
            Q(won_close_date__gte=since) if since else Q(),
            won=Count("pk", filter=Q(status=Status.WON)),
            closed=Count("pk"),
            won_revenue=Sum("won_amount", filter=Q(status=Status.WON, won_currency=base)),
        )
    )
    yield from _rows(
        _grouped(
            registrations.filter(status=Status.LOST, outcome_recorded_at__isnull=False),
            TruncDate("outcome_recorded_at", tzinfo=zone),
            after("outcome_recorded_at"),
            closed=Count("pk"),
        )
    )
    # The open pipeline is a figure "as it stands now": it sits on the day
    # the registration was approved, and every day counts.
    approved_on = Coalesce("decided_at", "created_at", output_field=DateTimeField())
    yield from _rows(
        _grouped(
            registrations.filter(status=Status.APPROVED, currency=base),
            TruncDate(approved_on, tzinfo=zone),
            Q(decided_at__gte=start) | Q(decided_at__isnull=True, created_at__gte=start)
            if start
            else Q(),
            open_pipeline=Sum("estimated_value"),
        )
    )
    if partner_ids is None or None in partner_ids:
        yield from _direct(tenant, since)


def _direct(tenant: Tenant, since: date | None) -> Iterator[FactRow]:
    zone = ZoneInfo(tenant.timezone)
    opportunities = DirectOpportunity.objects.filter(
        tenant_id=tenant.pk, currency=tenant.base_currency, amount__isnull=False
    )
    open_now = (
        opportunities.filter(stage__in=DirectOpportunity.OPEN_STAGES)
        .annotate(day=TruncDate("imported_at", tzinfo=zone))
        .values("day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    if since:
        open_now = open_now.filter(imported_at__gte=_local_start(tenant, since))
    for row in open_now:
        yield FactRow(None, row["day"], {"direct_open": row["total"]})
    won = (
        opportunities.filter(stage=DirectOpportunity.Stage.CLOSED_WON, close_date__isnull=False)
        .values("close_date")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    if since:
        won = won.filter(close_date__gte=since)
    for row in won:
        yield FactRow(None, row["close_date"], {"direct_won": row["total"]})


def _rows(grouped: Iterable[tuple[Any, date, dict[str, Any]]]) -> Iterator[FactRow]:
    for partner, day, values in grouped:
        kept = {key: value for key, value in values.items() if value}
        if kept:
            yield FactRow(partner, day, kept)


def measure(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> Iterator[tuple[str, Measurement]]:
    """Each decided registration's turnaround, in business microseconds, on
    the day it was decided."""
    rows = DealRegistration.objects.filter(tenant_id=tenant.pk)
    if partner_ids is not None:
        rows = rows.filter(partner_id__in=[p for p in partner_ids if p])
    if since:
        rows = rows.filter(decided_at__gte=_local_start(tenant, since))
    zone = ZoneInfo(tenant.timezone)
    for partner, decided_at, microseconds in turnaround(tenant, rows):
        day = timezone.localdate(decided_at, zone)
        yield "turnaround", Measurement(partner, day, microseconds)


def _registration_partner(event: Any) -> list[Any]:
    return list(
        DealRegistration._base_manager.filter(pk=event.registration_id).values_list(
            "partner_id", flat=True
        )
    )


def _conflict_partners(conflict: Conflict) -> list[Any]:
    ids = [conflict.registration_id, conflict.other_registration_id]
    return list(
        DealRegistration._base_manager.filter(pk__in=[i for i in ids if i]).values_list(
            "partner_id", flat=True
        )
    )


SOURCE = FactSource(
    key="dealreg",
    facts=FACTS,
    compute=compute,
    series=("turnaround",),
    measure=measure,
    watch={
        "dealreg.DealRegistration": lambda registration: [registration.partner_id],
        "dealreg.RegistrationEvent": _registration_partner,
        "dealreg.Conflict": _conflict_partners,
        "dealreg.DirectOpportunity": lambda opportunity: [None],
    },
)
