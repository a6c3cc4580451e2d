"""MDF's metrics: money allocated, claimed, paid and spent, how much of the
allocated money partners used, how fast claims are decided, and what the
funded activities brought back (ROI).

Definitions are those of ``shared/METRICS.md``; the money model is
``mdf.roi``'s. Amounts are in the tenant's base currency (budgets and
claims are kept in it). Periods:

- allocations (and the utilization rate) count in the period their
  budget's period starts in ("allocations whose period is in range"); a
  budget's claims count with it, whenever they were approved;
- claimed, spend and ROI count the claims approved (decided) in the
  period, in the tenant's time zone: the spend is recognised then;
- paid counts the reimbursements settled by payout runs marked paid on a
  day of the period (``Settlement.paid_on``);
- the claim turnaround counts the claims decided (approved or rejected) in
  the period.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum

from dealreg.models import DealRegSettings
from incentives.models import LedgerEntry, Settlement
from partners.metrics import partner_q
from prm.tenancy.businesstime import BusinessCalendar
from prm.tenancy.declarations import (
    Filters,
    Good,
    Metric,
    Period,
    Quantile,
    Rate,
    Total,
    Unit,
)
from prm.tenancy.figures import money, one_decimal, percent, percentile
from prm.tenancy.models import Tenant

from .models import Allocation, Claim
from .roi import activities, claim_approved_in

VIEW = ("mdf.view_claim",)
VIEW_ALLOCATIONS = ("mdf.view_allocation",)
VIEW_LEDGER = ("incentives.view_ledgerentry",)
CLAIMS = "tenant_admin:mdf_claim_changelist"
ALLOCATIONS = "tenant_admin:mdf_allocation_changelist"
LEDGER = "tenant_admin:incentives_ledgerentry_changelist"
# Claim turnaround is measured in hundredths of a business day.
HUNDREDTHS = 100


def _within(field: str, tenant: Tenant, period: Period) -> Q:
    start, after = period.bounds(tenant)
    return Q(**{f"{field}__gte": start, f"{field}__lt": after})


# --- The rows each figure counts (for a rate, its denominator) ----------------------------


def allocation_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Allocation]:
    """Allocations of budgets whose period starts in the period."""
    return Allocation.objects.filter(
        partner_q(filters, "partner__"),
        tenant_id=tenant.pk,
        budget__starts_on__gte=period.start,
        budget__starts_on__lte=period.end,
    )


def approved_claim_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Claim]:
    """Claims approved in the period."""
    return Claim.objects.filter(
        _within("decided_at", tenant, period),
        partner_q(filters, "partner__"),
        tenant_id=tenant.pk,
        status=Claim.Status.APPROVED,
    )


def decided_claim_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Claim]:
    """Claims decided (approved or rejected) in the period, as submitted."""
    return Claim.objects.filter(
        _within("decided_at", tenant, period),
        partner_q(filters, "partner__"),
        tenant_id=tenant.pk,
        status__in=[Claim.Status.APPROVED, Claim.Status.REJECTED],
        submitted_at__isnull=False,
    )


def paid_settlements(
    tenant: Tenant, period: Period | None, filters: Filters
) -> QuerySet[Settlement]:
    """Settlements of reimbursement entries by runs marked paid (in the
    period, when given)."""
    found = Settlement.objects.filter(
        partner_q(filters, "partner__"),
        tenant_id=tenant.pk,
        entry__kind=LedgerEntry.Kind.REIMBURSEMENT,
        entry__base_currency=tenant.base_currency,
        paid_on__isnull=False,
    )
    if period is not None:
        found = found.filter(paid_on__gte=period.start, paid_on__lte=period.end)
    return found


def paid_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(
        pk__in=paid_settlements(tenant, period, filters).values("entry_id")
    )


# --- The figures -----------------------------------------------------------------------------


def allocated(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    rows = allocation_rows(tenant, period, filters)
    return money(rows.aggregate(total=Sum("amount"))["total"])


def claimed_of_allocations(rows: QuerySet[Allocation]) -> Decimal:
    """Reimbursement of the approved claims of these allocations."""
    found = Claim.objects.filter(
        status=Claim.Status.APPROVED, request__allocation__in=rows.values("pk")
    ).aggregate(total=Sum("reimbursement_amount"))
    return money(found["total"])


def utilization(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    rows = allocation_rows(tenant, period, filters)
    return percent(claimed_of_allocations(rows), allocated(tenant, period, filters))


def claimed(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    rows = approved_claim_rows(tenant, period, filters)
    return money(rows.aggregate(total=Sum("reimbursement_amount"))["total"])


def spend(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    rows = approved_claim_rows(tenant, period, filters)
    return money(rows.aggregate(total=Sum("approved_cost"))["total"])


def paid(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    found = paid_settlements(tenant, period, filters).aggregate(total=Sum("entry__amount_base"))
    return money(found["total"])


def roi_won(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    """Won revenue (each activity's to the cent) of the registrations
    sourced by the activities whose claim was approved in the period."""
    found = (
        activities(tenant)
        .filter(claim_approved_in(tenant, period))
        .filter(partner_q(filters, "partner__"))
        .values_list("won_revenue", flat=True)
    )
    return sum((money(value) for value in found), Decimal(0))


def roi(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    return percent(roi_won(tenant, period, filters), claimed(tenant, period, filters))


def calendar(tenant: Tenant) -> BusinessCalendar:
    """The tenant's business calendar (deal registration's settings hold
    it), without creating its settings row: a metric only reads."""
    settings_row = DealRegSettings.objects.filter(tenant_id=tenant.pk).first()
    if settings_row is None:
        settings_row = DealRegSettings(tenant=tenant)
    settings_row.tenant = tenant
    return settings_row.calendar()


def turnaround(tenant: Tenant, rows: QuerySet[Claim]) -> list[tuple[Any, datetime, int]]:
    """(partner id, decided at, hundredths of a business day from submission
    to decision) of each of ``rows`` (decided claims): the business time on
    the tenant's calendar ÷ the length of its business day."""
    found = list(
        rows.filter(submitted_at__isnull=False, decided_at__isnull=False).values_list(
            "partner_id", "submitted_at", "decided_at"
        )
    )
    if not found:
        return []
    business = calendar(tenant)
    day = business.hours_per_day
    measured: list[tuple[Any, datetime, int]] = []
    for partner_id, submitted_at, decided_at in found:
        assert submitted_at is not None and decided_at is not None  # filtered above
        worked = business.between(submitted_at, decided_at)
        measured.append((partner_id, decided_at, round(worked * HUNDREDTHS / day)))
    return measured


def turnaround_days(tenant: Tenant, period: Period, filters: Filters) -> list[Decimal]:
    rows = decided_claim_rows(tenant, period, filters)
    return [Decimal(value) / HUNDREDTHS for _, _, value in turnaround(tenant, rows)]


def _turnaround(fraction: float) -> Callable[[Tenant, Period, Filters], Decimal | None]:
    def compute(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
        return one_decimal(percentile(turnaround_days(tenant, period, filters), fraction))

    return compute


TURNAROUND = (
    "Business days from a claim's submission to its approval or rejection, on the tenant's "
    "business calendar (working days and hours, public holidays, closure days: deal "
    "registration's settings), {what} over the claims decided in the period."
)
BY_APPROVAL = (
    " A claim counts when it is approved (in the tenant's time zone): its spend is recognised then."
)

METRICS: list[Metric] = [
    Metric(
        key="mdf.allocated",
        name="MDF allocated",
        definition=(
            "Sum (base currency) of the partners' allocations of the budgets whose period "
            "starts in the period (an allocation's amount as it stands now)."
        ),
        unit=Unit.MONEY,
        good=Good.NEITHER,
        compute=allocated,
        rollup=Total("mdf_allocated"),
        rows=allocation_rows,
        rows_admin=ALLOCATIONS,
        perms=VIEW_ALLOCATIONS,
    ),
    Metric(
        key="mdf.utilization",
        name="MDF utilization rate",
        definition=(
            "Funds claimed ÷ funds allocated, for the allocations of budgets whose period "
            "starts in the period: the reimbursement of their approved claims (whenever "
            "approved) ÷ their amounts."
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=utilization,
        rollup=Rate("mdf_allocated_claimed", "mdf_allocated"),
        rows=allocation_rows,
        rows_admin=ALLOCATIONS,
        perms=VIEW_ALLOCATIONS,
    ),
    Metric(
        key="mdf.claimed",
        name="MDF claimed",
        definition=(
            "Reimbursement (base currency) of the claims approved in the period: the "
            "vendor's share of the approved cost." + BY_APPROVAL
        ),
        unit=Unit.MONEY,
        good=Good.NEITHER,
        compute=claimed,
        rollup=Total("mdf_claimed"),
        rows=approved_claim_rows,
        rows_admin=CLAIMS,
        perms=VIEW,
    ),
    Metric(
        key="mdf.spend",
        name="MDF spend",
        definition=(
            "Approved cost (base currency) of the claims approved in the period: the "
            "vendor's reimbursement plus the partner's contribution." + BY_APPROVAL
        ),
        unit=Unit.MONEY,
        good=Good.NEITHER,
        compute=spend,
        rollup=Total("mdf_spend"),
        rows=approved_claim_rows,
        rows_admin=CLAIMS,
        perms=VIEW,
    ),
    Metric(
        key="mdf.paid",
        name="MDF paid",
        definition=(
            "Reimbursements (base currency) settled by payout runs marked paid on a day of "
            "the period."
        ),
        unit=Unit.MONEY,
        good=Good.NEITHER,
        compute=paid,
        rollup=Total("mdf_paid"),
        rows=paid_rows,
        rows_admin=LEDGER,
        perms=VIEW_LEDGER,
    ),
    Metric(
        key="mdf.claim_turnaround_median",
        name="MDF claim turnaround, median",
        definition=TURNAROUND.format(what="median"),
        unit=Unit.DAYS,
        good=Good.LOW,
        compute=_turnaround(0.5),
        rollup=Quantile("mdf_claim_turnaround", 0.5, HUNDREDTHS, exact=True),
        rows=decided_claim_rows,
        rows_admin=CLAIMS,
        perms=VIEW,
    ),
    Metric(
        key="mdf.claim_turnaround_p90",
        name="MDF claim turnaround, 90th percentile",
        definition=TURNAROUND.format(what="90th percentile"),
        unit=Unit.DAYS,
        good=Good.LOW,
        compute=_turnaround(0.9),
        rollup=Quantile("mdf_claim_turnaround", 0.9, HUNDREDTHS, exact=True),
        rows=decided_claim_rows,
        rows_admin=CLAIMS,
        perms=VIEW,
    ),
    Metric(
        key="mdf.roi",
        name="MDF ROI",
        definition=(
            "Won revenue of the registrations sourced by funded activities ÷ the vendor's "
            "spend on those activities, for the activities whose claim was approved in the "
            "period, as a percentage (400 % = won four times the spend). Won revenue is the "
            "won amount of sourced registrations won as they stand now (a reversed win does "
            "not count), in the base currency at the rate on the close date; the vendor's "
            "spend is the reimbursement of the approved claim." + BY_APPROVAL
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=roi,
        rollup=Rate("mdf_roi_won", "mdf_claimed"),
        rows=approved_claim_rows,
        rows_admin=CLAIMS,
        perms=VIEW,
    ),
]
