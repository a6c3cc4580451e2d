"""Incentives' metrics: what was accrued, paid and is outstanding, how fast
accruals are paid after the deal closes, and how often a calculation had to
be corrected.

Definitions are those of ``shared/METRICS.md``. Amounts are the entries'
``amount_base`` (the tenant's base currency at the entry's rate); an entry
counts in a period when it was booked (``created_at``) in it, in the
tenant's time zone, which is also the statement period it is booked in.

MDF reimbursements (``Kind.REIMBURSEMENT``, written by the mdf app) are
money owed through the same ledger and paid by the same payout runs, but
they are not incentives: accrued leaves them out, paid leaves out the part
of each payout that settled them (``reimbursed``), and outstanding
leaves out both.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from partners.metrics import partner_q
from prm.tenancy.declarations import (
    Days,
    Filters,
    Good,
    Metric,
    Period,
    Quantile,
    Rate,
    Total,
    Unit,
)
from prm.tenancy.figures import PercentileCont, money, one_decimal, percent
from prm.tenancy.models import Tenant

from .models import Dispute, IncentiveSettings, LedgerEntry, Settlement
from .money import ZERO

Kind = LedgerEntry.Kind
# What partners earn, net of corrections: every kind but the payouts.
EARNED = (Kind.ACCRUAL, Kind.ADJUSTMENT, Kind.CLAWBACK)

VIEW = ("incentives.view_ledgerentry",)


def entries(tenant: Tenant, filters: Filters) -> QuerySet[LedgerEntry]:
    """The tenant's entries in its base currency (all of them, unless the
    base currency was changed), of partners matching the filters."""
    return LedgerEntry.objects.filter(
        tenant_id=tenant.pk, base_currency=tenant.base_currency
    ).filter(partner_q(filters, "partner__"))


def _booked_in(tenant: Tenant, period: Period) -> Q:
    start, after = period.bounds(tenant)
    return Q(created_at__gte=start, created_at__lt=after)


# --- The rows each figure counts (for a rate, its denominator) ----------------------------


def earned_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[LedgerEntry]:
    return entries(tenant, filters).filter(_booked_in(tenant, period), kind__in=EARNED)


def payout_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[LedgerEntry]:
    return entries(tenant, filters).filter(_booked_in(tenant, period), kind=Kind.PAYOUT)


def booked_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[LedgerEntry]:
    _, after = period.bounds(tenant)
    return entries(tenant, filters).filter(created_at__lt=after)


def paid_accrual_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(
        pk__in=paid_accruals(tenant, period, filters).values("entry_id")
    )


def accrual_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[LedgerEntry]:
    return entries(tenant, filters).filter(_booked_in(tenant, period), kind=Kind.ACCRUAL)


# --- Accrued, paid, outstanding -------------------------------------------------------------


def _total(rows: QuerySet[LedgerEntry]) -> Decimal:
    """The entries' sum in the base currency (zero for none)."""
    return rows.aggregate(total=Sum("amount_base"))["total"] or ZERO


def reimbursed() -> Coalesce:
    """For a payout entry, the part of it that paid MDF reimbursements: the
    reimbursement entries it settled (a payout is the sum of the entries it
    settles), as a positive amount; zero for any other entry."""
    settled = (
        Settlement.objects.filter(payout=OuterRef("pk"), entry__kind=Kind.REIMBURSEMENT)
        .values("payout")
        .annotate(total=Sum("entry__amount_base"))
        .values("total")
    )
    return Coalesce(Subquery(settled), ZERO, output_field=DecimalField())


def _without_reimbursements(rows: QuerySet[LedgerEntry]) -> Decimal:
    """The entries' sum (base currency) less MDF reimbursements and the part
    of payouts that paid them, in one query."""
    found = rows.annotate(paid_reimbursements=reimbursed()).aggregate(
        total=Sum("amount_base", filter=~Q(kind=Kind.REIMBURSEMENT)),
        reimbursements=Sum("paid_reimbursements"),
    )
    return (found["total"] or ZERO) + (found["reimbursements"] or ZERO)


def accrued(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    return money(_total(earned_rows(tenant, period, filters)))


def paid(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    rows = payout_rows(tenant, period, filters)
    return money(-_without_reimbursements(rows))


def outstanding(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    rows = booked_rows(tenant, period, filters)
    return money(_without_reimbursements(rows))


# --- Paying on time ---------------------------------------------------------------------------


def paid_accruals(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Settlement]:
    """Settlements of deal accruals paid (the run marked paid) on a day of
    the period, with the days from the deal's close to payment."""
    return Settlement.objects.filter(
        partner_q(filters, "partner__"),
        tenant_id=tenant.pk,
        entry__kind=Kind.ACCRUAL,
        entry__registration__isnull=False,
        paid_on__gte=period.start,
        paid_on__lte=period.end,
        days_close_to_paid__isnull=False,
    )


def paid_within_target(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    settings_row = IncentiveSettings.objects.filter(tenant_id=tenant.pk).first()
    target = settings_row.payout_target_days if settings_row else 30
    counts = paid_accruals(tenant, period, filters).aggregate(
        within=Count("pk", filter=Q(days_close_to_paid__lte=target)), paid=Count("pk")
    )
    return percent(counts["within"], counts["paid"])


def _turnaround(fraction: float) -> Callable[[Tenant, Period, Filters], Decimal | None]:
    def compute(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
        days = paid_accruals(tenant, period, filters).aggregate(
            days=PercentileCont("days_close_to_paid", fraction=fraction)
        )["days"]
        return one_decimal(days)

    return compute


payment_turnaround_median = _turnaround(0.5)
payment_turnaround_p90 = _turnaround(0.9)


# --- Calculation errors -----------------------------------------------------------------------


def calculation_error_rate(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    corrected = Exists(
        Dispute.objects.filter(
            entry=OuterRef("pk"), status=Dispute.Status.ADJUSTED, adjustment__isnull=False
        )
    )
    counts = accrual_rows(tenant, period, filters).aggregate(
        corrected=Count("pk", filter=corrected), accrued=Count("pk")
    )
    return percent(counts["corrected"], counts["accrued"])


LEDGER = "tenant_admin:incentives_ledgerentry_changelist"

PAID_ON_TIME = (
    "Counts the deal accruals of payout runs marked paid on a day of the period; the "
    "promise is the tenant's payout target (30 days after the deal's close by default)."
)

METRICS: list[Metric] = [
    Metric(
        key="incentives.accrued",
        name="Incentives accrued",
        definition=(
            "Sum (base currency) of the ledger entries booked in the period that partners "
            "earn: accruals, net of adjustments (disputes, finance, deal corrections) and "
            "clawbacks."
        ),
        unit=Unit.MONEY,
        good=Good.NEITHER,
        compute=accrued,
        rollup=Total("earned"),
        rows=earned_rows,
        rows_admin=LEDGER,
        perms=VIEW,
    ),
    Metric(
        key="incentives.paid",
        name="Incentives paid",
        definition=(
            "Sum (base currency) of the payout entries booked in the period: what payout "
            "runs paid out (a run books its payouts when it is approved, before the bank "
            "transfer is marked paid), less the MDF reimbursements they paid."
        ),
        unit=Unit.MONEY,
        good=Good.NEITHER,
        compute=paid,
        rollup=Total("paid"),
        rows=payout_rows,
        rows_admin=LEDGER,
        perms=VIEW,
    ),
    Metric(
        key="incentives.outstanding",
        name="Incentives outstanding",
        definition=(
            "Accrued less paid as of the period's end: the sum (base currency) of every ledger "
            "entry booked before the period ended (accruals, adjustments and clawbacks less "
            "payouts), across the partners counted. MDF reimbursements, and the part of "
            "payouts that paid them, are left out."
        ),
        unit=Unit.MONEY,
        good=Good.NEITHER,
        compute=outstanding,
        rollup=Total("booked_incentives", Days.TO_END),
        rows=booked_rows,
        rows_admin=LEDGER,
        perms=VIEW,
    ),
    Metric(
        key="incentives.paid_within_30_days",
        name="% paid within 30 days",
        definition=(
            "Accruals paid within 30 days of the deal's close ÷ accruals paid. " + PAID_ON_TIME
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=paid_within_target,
        rollup=Rate("paid_within_target", "paid_accruals"),
        rows=paid_accrual_rows,
        rows_admin=LEDGER,
        perms=VIEW,
    ),
    Metric(
        key="incentives.payment_turnaround_median",
        name="Payment turnaround (close-to-paid), median",
        definition=(
            "Days from a deal's close date to the payout that paid its accrual (the day the "
            "payout run was marked paid), median over the accruals paid in the period."
        ),
        unit=Unit.DAYS,
        good=Good.LOW,
        compute=payment_turnaround_median,
        rollup=Quantile("close_to_paid", 0.5),
        rows=paid_accrual_rows,
        rows_admin=LEDGER,
        perms=VIEW,
    ),
    Metric(
        key="incentives.payment_turnaround_p90",
        name="Payment turnaround (close-to-paid), 90th percentile",
        definition=(
            "Days from a deal's close date to the payout that paid its accrual (the day the "
            "payout run was marked paid), 90th percentile over the accruals paid in the "
            "period."
        ),
        unit=Unit.DAYS,
        good=Good.LOW,
        compute=payment_turnaround_p90,
        rollup=Quantile("close_to_paid", 0.9),
        rows=paid_accrual_rows,
        rows_admin=LEDGER,
        perms=VIEW,
    ),
    Metric(
        key="incentives.calculation_error_rate",
        name="Incentive calculation error rate",
        definition=(
            "Incentive entries later corrected ÷ incentive entries accrued, among the "
            "accruals booked in the period. An accrual is corrected when a dispute on it "
            "was resolved with an adjustment. Clawbacks for reversed wins and adjustments "
            "that follow a corrected deal are not errors; a finance manual adjustment names "
            "no entry, so it cannot be counted against one."
        ),
        unit=Unit.PERCENT,
        good=Good.LOW,
        compute=calculation_error_rate,
        rollup=Rate("accruals_corrected", "accruals"),
        rows=accrual_rows,
        rows_admin=LEDGER,
        perms=VIEW,
    ),
]
