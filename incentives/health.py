"""Incentives' part of the partner health score (declared in
``incentives.declare``): statement disputes left open.

As of a day: a dispute counts as open on a day when it was opened by that
day's end (the tenant's time zone) and not resolved by then.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q

from prm import format as fmt
from prm.tenancy.declarations import HealthComponent, Period, Reading
from prm.tenancy.models import Tenant

from .models import Dispute, LedgerEntry

# Each dispute left open takes this much off the component.
PER_OPEN_DISPUTE = Decimal("0.5")


def open_disputes(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, Reading]:
    """1 with no dispute open at the day's end, 0.5 with one, 0 with two or
    more. A partner with no ledger entry by then takes no part in incentives
    yet: no data. Two queries."""
    after = Period(day, day).bounds(tenant)[1]
    earning = set(
        LedgerEntry.objects.filter(
            tenant_id=tenant.pk, partner_id__in=partner_ids, created_at__lt=after
        )
        .values_list("partner_id", flat=True)
        .distinct()
    )
    still_open = Q(resolved_at__isnull=True) | Q(resolved_at__gte=after)
    counts = dict(
        Dispute.objects.filter(
            still_open, tenant_id=tenant.pk, partner_id__in=partner_ids, created_at__lt=after
        )
        .values("partner_id")
        .annotate(n=Count("pk"))
        .values_list("partner_id", "n")
    )
    found = dict.fromkeys(partner_ids, Reading(None, "No incentive earned yet"))
    for partner_id in earning | set(counts):
        n = counts.get(partner_id, 0)
        value = max(Decimal(0), 1 - PER_OPEN_DISPUTE * n)
        why = "No statement dispute open" if not n else f"{fmt.plural(n, 'statement dispute')} open"
        found[partner_id] = Reading(value, why)
    return found


HEALTH_COMPONENTS = (
    HealthComponent(
        key="incentives.open_disputes",
        name="Incentive disputes",
        description=(
            "Statement disputes the partner has open: full marks with none, half with one, "
            "zero with two or more. No incentive earned yet: no data."
        ),
        default_weight=10,
        compute=open_disputes,
    ),
)
