"""Tier qualification's metric for reporting: partners in a grace period.

Grace periods are a partner's standing now (``TierStanding``), with no
history: the figure is as of today whatever the period, and its definition
says so. Tier distribution and moves are the partner directory's metrics
(``partners.metrics``: the dated tier history lives there)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from partners.metrics import partner_q
from prm.tenancy.declarations import Filters, Good, Metric, Period, Unit
from prm.tenancy.models import Tenant

from .models import TierStanding

STANDINGS = "tenant_admin:program_tierstanding_changelist"


def in_grace_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Any]:
    today = tenant.local_today()
    return TierStanding.objects.filter(
        partner_q(filters, "partner__"),
        tenant_id=tenant.pk,
        grace_until__gte=today,
        partner__status="active",
    )


def in_grace(tenant: Tenant, period: Period, filters: Filters) -> int:
    return in_grace_rows(tenant, period, filters).count()


METRICS = [
    Metric(
        key="program.partners_in_grace",
        name="Partners in a grace period",
        definition=(
            "Active partners that no longer meet their tier's criteria and keep the tier until "
            "their grace period ends (as of today, whatever the period: grace periods have no "
            "history)."
        ),
        unit=Unit.COUNT,
        good=Good.LOW,
        compute=in_grace,
        rows=in_grace_rows,
        rows_admin=STANDINGS,
        perms=("program.view_tierstanding",),
    ),
]
