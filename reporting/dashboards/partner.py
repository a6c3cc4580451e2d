"""The partner's dashboard: their organisation's pipeline and wins, their
earnings and what is payable next, their tier. Only their own figures: every
number is read for the member's partner, never from a filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.urls import reverse

from incentives.models import LedgerEntry
from incentives.portal_access import may_read_statements
from prm.tenancy.declarations import NO_FILTERS, Period
from prm.tenancy.models import Membership, Tenant

from ..figures import Figure, headline

DEALS = (
    "dealreg.partner_sourced_revenue",
    "dealreg.partner_sourced_pipeline",
    "dealreg.submitted",
    "dealreg.approval_rate",
    "dealreg.win_rate",
    "dealreg.conversion",
    "dealreg.turnaround_median",
)
EARNINGS = ("incentives.accrued", "incentives.paid", "incentives.outstanding")
# Where each figure drills in the portal: the organisation's own lists.
PORTAL_LISTS = {
    "dealreg.partner_sourced_pipeline": ("dealreg:list", "?status=approved"),
    "dealreg.partner_sourced_revenue": ("dealreg:list", "?status=won"),
    "dealreg.submitted": ("dealreg:list", ""),
    "dealreg.win_rate": ("dealreg:list", "?status=won"),
    "incentives.accrued": ("incentives:statements", ""),
    "incentives.paid": ("incentives:statements", ""),
    "incentives.outstanding": ("incentives:statements", ""),
}


@dataclass
class PartnerDashboard:
    deals: list[Figure]
    earnings: list[Figure]
    payable_now: Decimal | None
    held: Decimal | None
    next_available: date | None
    partner: Any


def _linked(figures: list[Figure]) -> list[Figure]:
    linked = []
    for figure in figures:
        target = PORTAL_LISTS.get(figure.metric.key)
        url = reverse(target[0]) + target[1] if target else None
        linked.append(Figure(figure.metric, figure.value, figure.previous, figure.series, url))
    return linked


def build(
    tenant: Tenant, membership: Membership, period: Period, *, today: date
) -> PartnerDashboard:
    partner = membership.partner
    assert partner is not None  # a partner role's page
    earnings_visible = may_read_statements(membership)
    keys = DEALS + (EARNINGS if earnings_visible else ())
    figures = headline(tenant, period, NO_FILTERS, partner=partner.pk, keys=keys, links=False)
    by_key = {f.metric.key: f for f in _linked(figures)}
    payable = held = None
    next_available = None
    if earnings_visible:
        unsettled = LedgerEntry.objects.filter(
            tenant_id=tenant.pk, partner_id=partner.pk, settlement__isnull=True
        ).exclude(kind=LedgerEntry.Kind.PAYOUT)
        sums = unsettled.aggregate(
            payable=Sum("amount_base", filter=Q(available_on__lte=today), default=0),
            held=Sum("amount_base", filter=Q(available_on__gt=today), default=0),
        )
        payable, held = sums["payable"], sums["held"]
        next_available = (
            unsettled.filter(available_on__gt=today)
            .order_by("available_on")
            .values_list("available_on", flat=True)
            .first()
        )
    return PartnerDashboard(
        deals=[by_key[k] for k in DEALS if k in by_key],
        earnings=[by_key[k] for k in EARNINGS if k in by_key],
        payable_now=payable,
        held=held,
        next_available=next_available,
        partner=partner,
    )
