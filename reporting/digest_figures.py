"""The digests' figures computed from the raw rows, for as long as the
dashboards' ``reporting.figures.headline`` (on the rollups) is not installed.

- The program's (the executive digest): the declared metrics' own
  ``compute``, for the period and the one before it.
- An organisation's (the partner digest): its registrations and its ledger,
  as its statement counts them: the pipeline it has open, what it won, what
  it earned and was paid in the period, and what is payable now.

Each figure has the shape of ``reporting.figures.Figure`` (``metric``,
``value``, ``previous``, ``url``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from dealreg import metrics as dealreg_metrics
from incentives import metrics as incentive_metrics
from incentives.payouts import unsettled_entries
from partners.models import Partner
from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Filters, Good, Metric, Period, Unit
from prm.tenancy.figures import money
from prm.tenancy.models import Tenant

Value = Decimal | int | None


@dataclass(frozen=True)
class RawFigure:
    metric: Metric
    value: Value
    previous: Value
    url: str | None = None


def program_figures(tenant: Tenant, period: Period, keys: Sequence[str]) -> list[RawFigure]:
    """The declared metrics named by ``keys`` (those installed, in that
    order; every metric when ``keys`` is empty) over ``period`` and the
    period before it."""
    declared = registry.metrics()
    chosen = [declared[k] for k in keys if k in declared] if keys else list(declared.values())
    return [
        RawFigure(
            metric=metric,
            value=metric.compute(tenant, period, NO_FILTERS),
            previous=metric.compute(tenant, period.previous(), NO_FILTERS),
        )
        for metric in chosen
    ]


# --- One organisation --------------------------------------------------------------------

PartnerCompute = Callable[[Tenant, Period, Partner], Value]


def pipeline(tenant: Tenant, period: Period, partner: Partner) -> Value:
    rows = dealreg_metrics.pipeline_rows(tenant, period, NO_FILTERS).filter(partner=partner)
    return money(rows.aggregate(total=Sum("estimated_value"))["total"])


def won_revenue(tenant: Tenant, period: Period, partner: Partner) -> Value:
    rows = dealreg_metrics.revenue_rows(tenant, period, NO_FILTERS).filter(partner=partner)
    return money(rows.aggregate(total=Sum("won_amount"))["total"])


def deals_won(tenant: Tenant, period: Period, partner: Partner) -> Value:
    return dealreg_metrics.revenue_rows(tenant, period, NO_FILTERS).filter(partner=partner).count()


def earned(tenant: Tenant, period: Period, partner: Partner) -> Value:
    rows = incentive_metrics.earned_rows(tenant, period, NO_FILTERS).filter(partner=partner)
    return money(rows.aggregate(total=Sum("amount_base"))["total"])


def paid(tenant: Tenant, period: Period, partner: Partner) -> Value:
    rows = incentive_metrics.payout_rows(tenant, period, NO_FILTERS).filter(partner=partner)
    return money(-(rows.aggregate(total=Sum("amount_base"))["total"] or 0))


def payable_now(tenant: Tenant, period: Period, partner: Partner) -> Value:
    """Earnings available and not paid yet, on the tenant's today."""
    rows = unsettled_entries(tenant.local_today()).filter(
        partner=partner, base_currency=tenant.base_currency
    )
    return money(rows.aggregate(total=Sum("amount_base"))["total"])


@dataclass(frozen=True)
class PartnerFigure:
    key: str
    name: str
    definition: str
    unit: Unit
    good: Good
    compute: PartnerCompute
    snapshot: bool = False  # as it stands now, whatever the period

    def metric(self) -> Metric:
        def unusable(tenant: Tenant, period: Period, filters: Filters) -> Value:
            raise NotImplementedError("A partner figure is computed for one partner.")

        return Metric(self.key, self.name, self.definition, self.unit, self.good, unusable)


PARTNER_FIGURES = (
    PartnerFigure(
        "partner.pipeline",
        "Open pipeline",
        "Estimated value of your approved registrations that are still open, as it stands "
        "now (amounts in the program's base currency).",
        Unit.MONEY,
        Good.HIGH,
        pipeline,
        snapshot=True,
    ),
    PartnerFigure(
        "partner.won_revenue",
        "Won revenue",
        "Won amount of your registrations that closed won in the period.",
        Unit.MONEY,
        Good.HIGH,
        won_revenue,
    ),
    PartnerFigure(
        "partner.deals_won",
        "Deals won",
        "Your registrations that closed won in the period.",
        Unit.COUNT,
        Good.HIGH,
        deals_won,
    ),
    PartnerFigure(
        "partner.earned",
        "Earnings accrued",
        "Commissions, SPIFFs and rebates booked to you in the period, net of corrections "
        "and clawbacks.",
        Unit.MONEY,
        Good.HIGH,
        earned,
    ),
    PartnerFigure(
        "partner.paid",
        "Earnings paid",
        "Payouts made to you in the period.",
        Unit.MONEY,
        Good.NEITHER,
        paid,
    ),
    PartnerFigure(
        "partner.payable",
        "Payable now",
        "Earnings available to be paid and not paid yet: the next payout run pays them "
        "(once they reach the program's minimum payout).",
        Unit.MONEY,
        Good.NEITHER,
        payable_now,
        snapshot=True,
    ),
)
SNAPSHOTS = frozenset(f.key for f in PARTNER_FIGURES if f.snapshot)


def partner_figures(tenant: Tenant, period: Period, partner: Partner) -> list[RawFigure]:
    """The organisation's figures over ``period`` and the period before it
    (none before it for a figure as it stands now)."""
    return [
        RawFigure(
            metric=figure.metric(),
            value=figure.compute(tenant, period, partner),
            previous=None
            if figure.snapshot
            else figure.compute(tenant, period.previous(), partner),
        )
        for figure in PARTNER_FIGURES
    ]
