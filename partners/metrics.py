"""The partner directory's metrics, and how every metric applies the filters.

``partner_q`` is the one place that says what the reporting filters (region,
tier, partner type, channel manager) mean: they select partners, through
whatever path leads from the counted rows to their partner. The small helpers
builds on the foundation's figure helpers (``prm.tenancy.figures``: rates,
money, percentiles, admin list links).

Definitions are those of ``shared/METRICS.md``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from prm.tenancy.declarations import Days, Filters, Good, Metric, Period, Rate, Total, Unit
from prm.tenancy.figures import percent
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import PARTNER_ROLES

from .models import Partner, TierChange

# --- Filters ------------------------------------------------------------------------------


def partner_q(filters: Filters, prefix: str = "") -> Q:
    """The filters as a condition on partners reached through ``prefix``
    (``"partner__"`` from a registration or a ledger entry, ``""`` on
    partners themselves): the partner's region, tier, type and channel
    manager, as they are now. An empty filter selects every partner. (The
    directory's own metrics, which count partners at a period's end, apply
    it to the partners' history instead: as they were then.)"""
    q = Q()
    for field, value in (
        ("region", filters.region),
        ("tier", filters.tier),
        ("partner_type", filters.partner_type),
        ("channel_manager", filters.channel_manager),
    ):
        if value not in (None, ""):
            q &= Q(**{f"{prefix}{field}": value})
    return q


# --- Partners at a moment -----------------------------------------------------------------


def active_partner_ids(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Any]:
    """The ids of the partners that were active, and matched the filters,
    at the end of ``period``: each partner's last recorded version (the
    directory's history, which every save of a partner writes) before the
    first instant after the period, unless that version is its deletion."""
    _, after = period.bounds(tenant)
    versions = Partner.history.model.objects.filter(tenant_id=tenant.pk, history_date__lt=after)
    latest = versions.order_by("id", "-history_date", "-history_id").distinct("id")
    return (
        versions.filter(history_id__in=latest.values("history_id"))
        .exclude(history_type="-")
        .filter(partner_q(filters), status=Partner.Status.ACTIVE)
        .values("id")
    )


# --- Metrics ------------------------------------------------------------------------------

ADOPTION_WINDOW = timedelta(days=30)


def active_partners(tenant: Tenant, period: Period, filters: Filters) -> int:
    return active_partner_ids(tenant, period, filters).count()


def adoption_counts(tenant: Tenant, period: Period, filters: Filters) -> tuple[int, int]:
    """(active partners with a portal user signed in during the 30 days up
    to the period's end, active partners)."""
    _, after = period.bounds(tenant)
    signed_in = Membership.objects.filter(
        tenant_id=tenant.pk,
        partner_id=OuterRef("id"),
        role__in=sorted(PARTNER_ROLES),
        user__last_login__gte=after - ADOPTION_WINDOW,
        user__last_login__lt=after,
    )
    active = Partner.objects.filter(
        tenant_id=tenant.pk, pk__in=active_partner_ids(tenant, period, filters)
    )
    counts = active.aggregate(adopted=Count("pk", filter=Exists(signed_in)), active=Count("pk"))
    return counts["adopted"], counts["active"]


def system_adoption(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    adopted, active = adoption_counts(tenant, period, filters)
    return percent(adopted, active)


def active_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Partner]:
    """The partners counted as active at the period's end (for adoption, its
    denominator), as the partner list shows them."""
    return Partner.objects.filter(pk__in=active_partner_ids(tenant, period, filters))


# --- Tier movements -----------------------------------------------------------------------


def tier_moves(tenant: Tenant, period: Period, filters: Filters, direction: int) -> QuerySet[Any]:
    """The dated tier changes (``TierChange``) taking effect in the period
    that moved a partner up (1) or down (-1) the ladder. The tier filter
    matches a move into or out of that tier; the other filters the partner
    as it is now."""
    rank, previous_rank = "tier__rank", "previous__rank"
    moved = (
        Q(**{f"{rank}__gt": F(previous_rank)})
        if direction > 0
        else Q(**{f"{rank}__lt": F(previous_rank)})
    )
    rows = TierChange.objects.filter(
        moved,
        tenant_id=tenant.pk,
        previous__isnull=False,
        effective_on__gte=period.start,
        effective_on__lte=period.end,
    )
    if filters.tier not in (None, ""):
        rows = rows.filter(Q(tier=filters.tier) | Q(previous=filters.tier))
    return rows.filter(partner_q(replace(filters, tier=None), "partner__"))


def moves_up_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Any]:
    return tier_moves(tenant, period, filters, 1)


def moves_down_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Any]:
    return tier_moves(tenant, period, filters, -1)


def moves_up(tenant: Tenant, period: Period, filters: Filters) -> int:
    return moves_up_rows(tenant, period, filters).count()


def moves_down(tenant: Tenant, period: Period, filters: Filters) -> int:
    return moves_down_rows(tenant, period, filters).count()


PERMS = ("partners.view_partner",)
PARTNERS = "tenant_admin:partners_partner_changelist"
TIER_CHANGES = "tenant_admin:partners_tierchange_changelist"

METRICS: list[Metric] = [
    Metric(
        key="partners.active",
        name="Active partners",
        definition=(
            "Partners whose status was active at the end of the period (as the partner "
            "directory's history records them), counted with the filters as they stood then."
        ),
        unit=Unit.COUNT,
        good=Good.HIGH,
        compute=active_partners,
        rollup=Total("active_delta", Days.TO_END),
        rows=active_rows,
        rows_admin=PARTNERS,
        perms=PERMS,
    ),
    Metric(
        key="partners.system_adoption",
        name="System adoption rate",
        definition=(
            "Partners with at least one portal user active (signed in) in the last 30 days "
            "before the period's end ÷ active partners at the period's end. A sign-in is a "
            "person's last sign-in, so for a past period people who have signed in since "
            "are not seen in it; actions without a sign-in in the window do not count."
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=system_adoption,
        rollup=Rate("adopted_delta", "active_delta", Days.TO_END),
        rows=active_rows,
        rows_admin=PARTNERS,
        perms=PERMS,
    ),
    Metric(
        key="partners.tier_moves_up",
        name="Tier moves up",
        definition=(
            "Partners moved to a higher tier with effect in the period (each move counts: the "
            "partners' dated tier history). With a tier filter: moves into or out of that tier."
        ),
        unit=Unit.COUNT,
        good=Good.NEITHER,
        compute=moves_up,
        rows=moves_up_rows,
        rows_admin=TIER_CHANGES,
        perms=PERMS,
    ),
    Metric(
        key="partners.tier_moves_down",
        name="Tier moves down",
        definition=(
            "Partners moved to a lower tier with effect in the period (each move counts: the "
            "partners' dated tier history). With a tier filter: moves into or out of that tier."
        ),
        unit=Unit.COUNT,
        good=Good.NEITHER,
        compute=moves_down,
        rows=moves_down_rows,
        rows_admin=TIER_CHANGES,
        perms=PERMS,
    ),
]
