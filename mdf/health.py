"""MDF's part of the partner health score (declared in ``mdf.declare``):
how much of the money allocated to the partner it used, and the at-risk
rule "funds expiring unused".

As of a day: only what had happened by the end of that day in the tenant's
time zone counts (claims approved by then, requests approved by then), so
the nightly score, a recomputation and a backfill agree. Allocations are
taken as they stand now, whenever made (an allocation is made for its
budget's period; its history is ``AllocationChange``, which a backfill does
not replay).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Q, Sum

from prm import format as fmt
from prm.tenancy.declarations import AtRiskRule, HealthComponent, Period, Reading
from prm.tenancy.models import Tenant

from .models import Allocation, Claim, FundRequest

# The component looks at the allocations of budget periods that ended in
# this many days up to the day (a period under way is not judged yet).
UTILIZATION_DAYS = 365
# The at-risk rule: a period ending within this many days with less than
# this share of its allocation used (requested and approved, or claimed).
EXPIRING_DAYS = 30
EXPIRING_USED = Decimal("0.25")
THOUSANDTH = Decimal("0.001")


def _end(tenant: Tenant, day: date) -> Any:
    return Period(day, day).bounds(tenant)[1]


def utilization(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, Reading]:
    """Claimed ÷ allocated over the partner's allocations of budget periods
    that ended in the year up to ``day`` (the reimbursement of their claims
    approved by the day's end), 0..1. A partner with no such allocation (or
    only empty ones) takes no part in MDF: no data. Two queries."""
    after = _end(tenant, day)
    allocations = Allocation.objects.filter(
        tenant_id=tenant.pk,
        partner_id__in=partner_ids,
        budget__ends_on__lte=day,
        budget__ends_on__gt=day - timedelta(days=UTILIZATION_DAYS),
    )
    allocated = dict(
        allocations.values("partner_id")
        .annotate(total=Sum("amount"))
        .filter(total__gt=0)
        .values_list("partner_id", "total")
    )
    claimed = dict(
        Claim.objects.filter(
            status=Claim.Status.APPROVED,
            decided_at__lt=after,
            request__allocation__in=allocations.values("pk"),
        )
        .values("partner_id")
        .annotate(total=Sum("reimbursement_amount"))
        .values_list("partner_id", "total")
    )
    found = {}
    currency = tenant.base_currency
    for partner_id, total in allocated.items():
        used = claimed.get(partner_id) or Decimal(0)
        value = min(Decimal(1), used / total).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)
        found[partner_id] = Reading(
            value,
            f"Claimed {fmt.money(used, currency)} of {fmt.money(total, currency)} allocated "
            "in the past year",
        )
    return found


def expiring_unused(
    tenant: Tenant, day: date, partner_ids: Any, thresholds: Mapping[str, int]
) -> dict[Any, str]:
    """Partners with an allocation whose budget period ends within 30 days
    of ``day`` and of which less than a quarter is used: approved for
    requests (by the day's end) or claimed. Two queries."""
    after = _end(tenant, day)
    allocations = list(
        Allocation.objects.filter(
            tenant_id=tenant.pk,
            partner_id__in=partner_ids,
            amount__gt=0,
            budget__starts_on__lte=day,
            budget__ends_on__gte=day,
            budget__ends_on__lte=day + timedelta(days=EXPIRING_DAYS),
        ).values_list("pk", "partner_id", "amount", "budget__ends_on")
    )
    if not allocations:
        return {}
    used = dict(
        FundRequest.objects.filter(
            Q(status__in=[FundRequest.Status.APPROVED, FundRequest.Status.CLAIMED])
            | Q(status=FundRequest.Status.CLOSED, claims__status=Claim.Status.APPROVED),
            allocation__in=[pk for pk, *_ in allocations],
            decided_at__lt=after,
        )
        .values("allocation_id")
        .annotate(total=Sum("approved_amount"))
        .values_list("allocation_id", "total")
    )
    flagged: dict[Any, list[str]] = defaultdict(list)
    for pk, partner_id, amount, ends_on in allocations:
        if (used.get(pk) or Decimal(0)) < amount * EXPIRING_USED:
            left = (ends_on - day).days
            flagged[partner_id].append(
                f"{fmt.money(amount - (used.get(pk) or 0), tenant.base_currency)} of MDF unused, "
                f"expiring in {fmt.plural(left, 'day')}"
            )
    return {partner_id: "; ".join(reasons) for partner_id, reasons in flagged.items()}


HEALTH_COMPONENTS = (
    HealthComponent(
        key="mdf.utilization",
        name="MDF utilization",
        description=(
            "Share of the market development funds allocated to the partner for the budget "
            "periods that ended in the past year that it claimed (approved claims' "
            "reimbursement). No allocation: no data."
        ),
        default_weight=10,
        compute=utilization,
    ),
)

AT_RISK_RULES = (
    AtRiskRule(
        key="mdf.expiring_unused",
        name="Funds expiring unused",
        description=(
            "An MDF allocation's period ends within 30 days and less than 25 % of it is "
            "used (approved for activities or claimed)."
        ),
        evaluate=expiring_unused,
    ),
)
