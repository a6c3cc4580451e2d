"""The channel manager's dashboard: my partners (health, pipeline, revenue,
last registration), my queue with its deadlines, and stalled deals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Max, QuerySet

from dealreg.models import DealRegistration
from partners.models import Partner
from prm.tenancy.declarations import Filters, Period, Unit
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import PARTNER_ROLES, Role

from ..exports import Column, Table
from ..figures import Figure, headline
from . import common

QUEUE = 15
STALLED = 15
# An approved deal is stalled when its expected close date passed this long ago.
STALLED_AFTER = timedelta(days=14)
KEYS = (
    "dealreg.partner_sourced_revenue",
    "dealreg.partner_sourced_pipeline",
    "dealreg.win_rate",
    "dealreg.submitted",
    "dealreg.sla_compliance",
    "dealreg.turnaround_median",
    "partners.active",
    "partners.system_adoption",
)


@dataclass
class Channel:
    figures: list[Figure]
    partners: Table
    queue: list[DealRegistration]
    queue_count: int
    stalled: list[DealRegistration]
    stalled_count: int
    manager: Any


def manager_of(membership: Membership, filters: Filters) -> Any:
    """Whose partners the page shows: a channel manager's own; for others,
    the channel manager the filters name (None: every partner)."""
    if membership.role == Role.CHANNEL_MANAGER:
        return membership.user_id
    return filters.channel_manager


def _partners(tenant: Tenant, manager: Any, filters: Filters) -> QuerySet[Partner]:
    partners = Partner.objects.filter(tenant_id=tenant.pk, status=Partner.Status.ACTIVE)
    if manager:
        partners = partners.filter(channel_manager_id=manager)
    for field, value in (
        ("region_id", filters.region),
        ("tier_id", filters.tier),
        ("partner_type", filters.partner_type),
    ):
        if value not in (None, ""):
            partners = partners.filter(**{field: value})
    return partners.select_related("tier", "region").order_by("name")


def build(
    tenant: Tenant,
    membership: Membership,
    period: Period,
    filters: Filters,
    *,
    today: date,
    health: dict[Any, Any] | None = None,
) -> Channel:
    manager = manager_of(membership, filters)
    mine = Filters(filters.region, filters.tier, filters.partner_type, manager)
    figures = headline(tenant, period, mine, keys=KEYS, membership=membership)
    partners = list(_partners(tenant, manager, filters)[:500])
    sums = {
        row["partner_id"]: row
        for row in common.per_partner(tenant, period, mine, partners=[p.pk for p in partners])
    }
    health = health or {}
    signed_in = dict(
        Membership.objects.filter(
            tenant_id=tenant.pk, partner__in=[p.pk for p in partners], role__in=PARTNER_ROLES
        )
        .values("partner_id")
        .annotate(last=Max("user__last_login"))
        .values_list("partner_id", "last")
    )
    rows = []
    for partner in partners:
        found = sums.get(partner.pk, {})
        score = health.get(partner.pk)
        rows.append(
            {
                "partner": partner.name,
                "partner_id": partner.pk,
                "tier": partner.tier.name if partner.tier_id else "",
                "region": partner.region.name if partner.region else "",
                "health": getattr(score, "score", None),
                "at_risk": getattr(score, "at_risk", False),
                "pipeline": found.get("pipeline", 0),
                "revenue": found.get("revenue", 0),
                "submitted": found.get("submissions", 0),
                "last_submitted": found.get("last_submitted"),
                "last_sign_in": signed_in.get(partner.pk),
            }
        )
    currency = tenant.base_currency
    table = Table(
        key="my_partners",
        title="My partners" if membership.role == Role.CHANNEL_MANAGER else "Partners",
        columns=[
            Column("partner", "Partner", None),
            Column("tier", "Tier", None),
            Column("region", "Region", None),
            Column("health", "Health score", Unit.COUNT),
            Column("pipeline", f"Open pipeline ({currency})", Unit.MONEY),
            Column("revenue", f"Revenue in the period ({currency})", Unit.MONEY),
            Column("submitted", "Registrations submitted", Unit.COUNT),
            Column("last_submitted", "Last registration", None),
            Column("last_sign_in", "Last portal sign-in", None),
        ],
        rows=rows,
    )
    pending = DealRegistration.objects.filter(
        tenant_id=tenant.pk, status__in=DealRegistration.PENDING
    )
    if membership.role == Role.CHANNEL_MANAGER:
        pending = pending.filter(approver_id=membership.user_id)
    elif manager:
        pending = pending.filter(partner__channel_manager_id=manager)
    stalled = DealRegistration.objects.filter(
        tenant_id=tenant.pk,
        status=DealRegistration.Status.APPROVED,
        expected_close_date__lt=today - STALLED_AFTER,
    )
    if manager:
        stalled = stalled.filter(partner__channel_manager_id=manager)
    return Channel(
        figures=figures,
        partners=table,
        queue=list(
            pending.select_related("partner").order_by("sla_due_at", "submitted_at")[:QUEUE]
        ),
        queue_count=pending.count(),
        stalled=list(stalled.select_related("partner").order_by("expected_close_date")[:STALLED]),
        stalled_count=stalled.count(),
        manager=manager,
    )
