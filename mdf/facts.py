"""MDF's daily figures in reporting's rollups (``FactSource``): per partner
and calendar day in the tenant's time zone, each figure on the day its
metric (``mdf.metrics``) places it:

- ``mdf_allocated`` and ``mdf_allocated_claimed`` (the reimbursement of
  the allocation's approved claims) on the first day of the budget's period;
- ``mdf_claimed`` (reimbursement), ``mdf_spend`` (approved cost) and
  ``mdf_roi_won`` (won revenue of the registrations the activity sourced)
  on the day the claim was approved;
- ``mdf_paid`` on the day the payout run that settled the reimbursement
  was marked paid;
- the ``mdf_claim_turnaround`` series (hundredths of a business day) on the
  day the claim was decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from prm.tenancy.declarations import NO_FILTERS, FactRow, FactSource, Measurement
from prm.tenancy.figures import money
from prm.tenancy.models import Tenant

from .metrics import paid_settlements, turnaround
from .models import Allocation, Claim
from .roi import AMOUNT, activities

FACTS = (
    "mdf_allocated",
    "mdf_allocated_claimed",
    "mdf_claimed",
    "mdf_spend",
    "mdf_paid",
    "mdf_roi_won",
)
ZERO = Decimal(0)


def _of(rows: Any, partner_ids: Sequence[Any] | None, field: str = "partner_id") -> Any:
    if partner_ids is None:
        return rows
    return rows.filter(**{f"{field}__in": [p for p in partner_ids if p]})


def compute(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> Iterator[FactRow]:
    zone = ZoneInfo(tenant.timezone)
    start = datetime.combine(since, time.min, tzinfo=zone) if since else None
    values: dict[tuple[Any, date], dict[str, Decimal]] = defaultdict(dict)

    def add(partner: Any, day: date, name: str, value: Decimal | None) -> None:
        if value:
            found = values[(partner, day)]
            found[name] = found.get(name, ZERO) + value

    claimed = (
        Claim.objects.filter(status=Claim.Status.APPROVED, request__allocation=OuterRef("pk"))
        .values("request__allocation")
        .annotate(total=Sum("reimbursement_amount"))
        .values("total")
    )
    allocations = _of(Allocation.objects.filter(tenant_id=tenant.pk), partner_ids)
    if since:
        allocations = allocations.filter(budget__starts_on__gte=since)
    for row in (
        allocations.values("partner_id", "budget__starts_on")
        .annotate(
            amount=Sum("amount"),
            used=Sum(Coalesce(Subquery(claimed, output_field=AMOUNT), ZERO)),
        )
        .order_by()
    ):
        day = row["budget__starts_on"]
        add(row["partner_id"], day, "mdf_allocated", row["amount"])
        add(row["partner_id"], day, "mdf_allocated_claimed", row["used"])

    funded = _of(activities(tenant), partner_ids).filter(claim_decided_at__isnull=False)
    if start:
        funded = funded.filter(claim_decided_at__gte=start)
    for partner, decided_at, reimbursed, spent, won in funded.values_list(
        "partner_id", "claim_decided_at", "vendor_spend", "spent", "won_revenue"
    ).order_by():
        day = timezone.localdate(decided_at, zone)
        add(partner, day, "mdf_claimed", reimbursed)
        add(partner, day, "mdf_spend", spent)
        add(partner, day, "mdf_roi_won", money(won))

    settlements = _of(paid_settlements(tenant, None, NO_FILTERS), partner_ids)
    if since:
        settlements = settlements.filter(paid_on__gte=since)
    for row in (
        settlements.values("partner_id", "paid_on")
        .annotate(total=Sum("entry__amount_base"))
        .order_by()
    ):
        add(row["partner_id"], row["paid_on"], "mdf_paid", row["total"])

    for (partner, day), found in values.items():
        yield FactRow(partner, day, found)


def measure(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> Iterator[tuple[str, Measurement]]:
    """Each decided claim's turnaround, on the day it was decided."""
    zone = ZoneInfo(tenant.timezone)
    rows = _of(
        Claim.objects.filter(
            tenant_id=tenant.pk, status__in=[Claim.Status.APPROVED, Claim.Status.REJECTED]
        ),
        partner_ids,
    )
    if since:
        rows = rows.filter(decided_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    for partner, decided_at, value in turnaround(tenant, rows):
        yield (
            "mdf_claim_turnaround",
            Measurement(partner, timezone.localdate(decided_at, zone), value),
        )


def _request_partner(row: Any) -> list[Any]:
    from .models import FundRequest

    return list(
        FundRequest._base_manager.filter(pk=row.request_id).values_list("partner_id", flat=True)
    )


def _budget_partners(budget: Any) -> list[Any]:
    return list(
        Allocation._base_manager.filter(budget_id=budget.pk)
        .values_list("partner_id", flat=True)
        .distinct()
    )


SOURCE = FactSource(
    key="mdf",
    facts=FACTS,
    compute=compute,
    series=("mdf_claim_turnaround",),
    measure=measure,
    watch={
        "mdf.Allocation": lambda allocation: [allocation.partner_id],
        # A budget's period dates place its allocations.
        "mdf.Budget": _budget_partners,
        "mdf.Claim": lambda claim: [claim.partner_id],
        "mdf.FundRequest": lambda request: [request.partner_id],
        "mdf.SourcedDeal": _request_partner,
        # Won revenue in another currency converts at incentives' rates.
        "incentives.ExchangeRate": lambda rate: ["*"],
    },
)
# Registrations (won, reversed, corrected) and settlements (a run marked
# paid) are watched by deal registration's and incentives' sources: a
# partner they mark stale is recomputed whole, MDF's facts included.
