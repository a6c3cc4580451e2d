"""Incentives' daily figures in reporting's rollups (``FactSource``): what
was earned, paid and is owed, per partner and calendar day in the tenant's
time zone, and how fast deal accruals were paid.

Entries count on the day they were booked (``created_at``), in the base
currency, as the metrics count them; settlements on the day their run was
paid (``paid_on``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from prm.tenancy.declarations import FactRow, FactSource, Measurement
from prm.tenancy.models import Tenant

from .metrics import EARNED, Kind
from .models import Dispute, IncentiveSettings, LedgerEntry, Settlement

FACTS = (
    "earned",
    "paid",
    "booked",
    "booked_incentives",
    "accruals",
    "accruals_corrected",
    "paid_accruals",
    "paid_within_target",
)


def _corrected() -> Exists:
    return Exists(
        Dispute.objects.filter(
            entry=OuterRef("pk"), status=Dispute.Status.ADJUSTED, adjustment__isnull=False
        )
    )


def _target(tenant: Tenant) -> int:
    settings_row = IncentiveSettings.objects.filter(tenant_id=tenant.pk).first()
    return settings_row.payout_target_days if settings_row else 30


def _paid_accruals(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> QuerySet[Settlement]:
    """The settlements of deal accruals paid (``metrics.paid_accruals``
    without its period), of these partners, paid from ``since`` on."""
    settlements = Settlement.objects.filter(
        tenant_id=tenant.pk,
        entry__kind=Kind.ACCRUAL,
        entry__registration__isnull=False,
        paid_on__isnull=False,
        days_close_to_paid__isnull=False,
    )
    if partner_ids is not None:
        settlements = settlements.filter(partner_id__in=[p for p in partner_ids if p])
    if since:
        settlements = settlements.filter(paid_on__gte=since)
    return settlements


def compute(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> Iterator[FactRow]:
    zone = ZoneInfo(tenant.timezone)
    entries = LedgerEntry.objects.filter(tenant_id=tenant.pk, base_currency=tenant.base_currency)
    settlements = _paid_accruals(tenant, partner_ids, since)
    if partner_ids is not None:
        entries = entries.filter(partner_id__in=[p for p in partner_ids if p])
    if since:
        entries = entries.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    booked = (
        entries.annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("partner_id", "day")
        .annotate(
            earned=Sum("amount_base", filter=Q(kind__in=EARNED)),
            payouts=Sum("amount_base", filter=Q(kind=Kind.PAYOUT)),
            booked=Sum("amount_base"),
            reimbursed=Sum("amount_base", filter=Q(kind=Kind.REIMBURSEMENT)),
            accruals=Count("pk", filter=Q(kind=Kind.ACCRUAL)),
            accruals_corrected=Count("pk", filter=Q(kind=Kind.ACCRUAL) & Q(_corrected())),
        )
        .order_by()
    )
    for row in booked:
        values = {
            "earned": row["earned"],
            "paid": -row["payouts"] if row["payouts"] is not None else None,
            "booked": row["booked"],
            "booked_incentives": row["booked"] - (row["reimbursed"] or 0),
            "accruals": row["accruals"],
            "accruals_corrected": row["accruals_corrected"],
        }
        yield FactRow(row["partner_id"], row["day"], {k: v for k, v in values.items() if v})
    # The part of each payout that paid MDF reimbursements is not incentives
    # paid, nor does it lower incentives outstanding (metrics.reimbursed).
    reimbursements = Settlement.objects.filter(
        tenant_id=tenant.pk,
        entry__kind=Kind.REIMBURSEMENT,
        entry__base_currency=tenant.base_currency,
        payout__kind=Kind.PAYOUT,
    )
    if partner_ids is not None:
        reimbursements = reimbursements.filter(partner_id__in=[p for p in partner_ids if p])
    if since:
        reimbursements = reimbursements.filter(
            payout__created_at__gte=datetime.combine(since, time.min, tzinfo=zone)
        )
    for row in (
        reimbursements.annotate(day=TruncDate("payout__created_at", tzinfo=zone))
        .values("partner_id", "day")
        .annotate(total=Sum("entry__amount_base"))
        .order_by()
    ):
        if row["total"]:
            values = {"paid": -row["total"], "booked_incentives": row["total"]}
            yield FactRow(row["partner_id"], row["day"], values)
    target = _target(tenant)
    paid_on = (
        settlements.values("partner_id", "paid_on")
        .annotate(
            paid_accruals=Count("pk"),
            paid_within_target=Count("pk", filter=Q(days_close_to_paid__lte=target)),
        )
        .order_by()
    )
    for row in paid_on:
        values = {"paid_accruals": row["paid_accruals"]}
        if row["paid_within_target"]:
            values["paid_within_target"] = row["paid_within_target"]
        yield FactRow(row["partner_id"], row["paid_on"], values)


def measure(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> Iterator[tuple[str, Measurement]]:
    """Days from the deal's close to payment of each paid deal accrual, on
    the day it was paid."""
    settlements = _paid_accruals(tenant, partner_ids, since)
    found = settlements.values_list("partner_id", "paid_on", "days_close_to_paid")
    for partner, day, days in found:
        assert day is not None and days is not None  # filtered above
        yield "close_to_paid", Measurement(partner, day, days)


def _run_partners(run: Any) -> list[Any]:
    """Marking a run paid fills its settlements' paid dates in one UPDATE
    (``incentives.payouts.paid``): every partner the run pays."""
    return list(
        Settlement._base_manager.filter(run_id=run.pk)
        .values_list("partner_id", flat=True)
        .distinct()
    )


def _entry_partner(dispute: Dispute) -> list[Any]:
    return [dispute.partner_id]


SOURCE = FactSource(
    key="incentives",
    facts=FACTS,
    compute=compute,
    series=("close_to_paid",),
    measure=measure,
    watch={
        "incentives.LedgerEntry": lambda entry: [entry.partner_id],
        "incentives.Settlement": lambda settlement: [settlement.partner_id],
        "incentives.PayoutRun": _run_partners,
        "incentives.Dispute": _entry_partner,
        # The payment target decides which payments were on time: all of them.
        "incentives.IncentiveSettings": lambda settings_row: ["*"],
    },
)
