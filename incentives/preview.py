"""What-if: what a plan version would have paid over a past date range,
per partner, without writing anything.

The arithmetic is the ledger's own (``ledger.partner_eligible``,
``ledger.products_eligible``, ``rules.deal_commission`` /
``rules.volume_rebate``, ``money.round_money``), applied as if the version
had been in force for the whole range (its effective dates and the plan's
active flag are what-if parameters here, not filters):

* Per-deal plans (commission, SPIFF): each partner's won deals closed in the
  range, in close-date order, each computed the way ``ledger.sync_deal``
  computes a first accrual: the partner's attainment and what the version
  accrued so far in the deal's rule period carry from deal to deal, a deal
  counts toward attainment only when it earned something, and the result is
  rounded in the deal's currency and converted to base at the deal's rate.
* Rebate plans: each rule period lying wholly inside the range, on the
  partner's won volume of qualifying deals in it (each deal converted and
  rounded the way ``rebates.rebate_volume`` does).

Tiers are effective-dated, as in the ledger: a deal counts when the partner
held one of the version's tiers on its close date; a rebate period when it
held one on the period's last day. ``tiers=`` replaces that history with any
function ``(partner_id, day) -> tier_id``: "what would partners have earned
in the tier they would move to" (a simulation of new tier criteria).

Beside it stands what the ledger actually holds from every version of the
same plan for the same deals (per-deal plans: deals closed in the range;
rebates: the periods of the range). A deal whose exchange rate is missing is
reported as a problem and left out, never a crash.

Everything is read in a handful of queries (deals, their product lines,
partners, rates, the actual totals), so ten thousand deals take well under
a second or two.
"""

import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

from django.db.models import Sum
from django.http.response import HttpResponseBase

from dealreg.models import DealRegistration
from partners.models import Partner
from partners.tiers import timelines
from prm import format as fmt
from prm.csvio import csv_response
from prm.tenancy.models import Tenant

from . import ledger, periods
from .models import ExchangeRate, LedgerEntry, Plan, PlanVersion
from .money import ZERO, round_money, to_base
from .rules import Rule, deal_commission, volume_rebate

ONE = Decimal(1)


@dataclass
class PreviewRow:
    partner_id: object
    partner_name: str
    deals: int = 0
    volume: Decimal = ZERO  # won volume, base currency
    would_pay: Decimal = ZERO  # what the version would have paid, base currency
    actual: Decimal = ZERO  # what the ledger holds from the plan, base currency
    incomplete: bool = False  # a deal was left out (missing exchange rate)

    @property
    def difference(self) -> Decimal:
        return self.would_pay - self.actual


@dataclass
class PreviewProblem:
    registration_code: str
    partner_name: str
    message: str


@dataclass
class PreviewResult:
    version: PlanVersion
    start: date
    end: date
    base_currency: str
    rows: list[PreviewRow] = field(default_factory=list)
    problems: list[PreviewProblem] = field(default_factory=list)
    # Rebate plans: the rule periods computed (start, end); empty otherwise.
    periods: list[tuple[date, date]] = field(default_factory=list)

    @property
    def is_rebate(self) -> bool:
        return self.version.plan.kind == Plan.Kind.REBATE

    @property
    def totals(self) -> PreviewRow:
        total = PreviewRow(partner_id=None, partner_name="Total")
        for row in self.rows:
            total.deals += row.deals
            total.volume += row.volume
            total.would_pay += row.would_pay
            total.actual += row.actual
            total.incomplete = total.incomplete or row.incomplete
        return total


class PreviewError(ledger.IncentiveError):
    """A range the preview refuses; ``field`` is "start" or "end"."""


# --- Ranges --------------------------------------------------------------------------


def last_full_period(today: date, period: str) -> tuple[date, date]:
    """The last calendar period (month, quarter, year) that ended before
    ``today``."""
    current = periods.period_start(today, period)
    start = periods.period_start(current - timedelta(days=1), period)
    return start, periods.period_end(start, period)


def default_range(version: PlanVersion, today: date) -> tuple[date, date]:
    """The last full quarter; for a rebate plan the last full rule period
    (a yearly rebate needs a whole year to say anything)."""
    if version.plan.kind == Plan.Kind.REBATE:
        return last_full_period(today, version.period)
    return last_full_period(today, periods.Period.QUARTER)


def check_range(start: date, end: date, today: date) -> None:
    """Raise ``PreviewError`` for a range the preview does not compute."""
    if end < start:
        raise PreviewError("The end of the range must not be before its start.", "end")
    if end > today:
        raise PreviewError(
            f"The preview looks at the past: the range must end today ({fmt.day(today)}) "
            "or earlier.",
            "end",
        )
    if start < _two_years_before(end):
        raise PreviewError(
            f"The range may span at most two years: start on "
            f"{_two_years_before(end):%Y-%m-%d} or later.",
            "start",
        )


def _two_years_before(end: date) -> date:
    """The first day of the two years that end on ``end``."""
    try:
        same_day = end.replace(year=end.year - 2)
    except ValueError:  # 29 February
        same_day = date(end.year - 2, 3, 1) - timedelta(days=1)
    return same_day + timedelta(days=1)


def rebate_periods(version: PlanVersion, start: date, end: date) -> list[tuple[date, date]]:
    """The version's rule periods lying wholly inside [start, end]."""
    found = []
    first = periods.period_start(start, version.period)
    if first < start:
        first = periods.next_start(first, version.period)
    while True:
        last = periods.period_end(first, version.period)
        if last > end:
            break
        found.append((first, last))
        first = periods.next_start(first, version.period)
    return found


# --- Exchange rates, read once -------------------------------------------------------


class _Rates:
    """``ledger.rate_on`` over a table read once. A missing rate raises
    ``ledger.rate_on``'s own ``NoRate`` (and message)."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.days: dict[str, list[date]] = {}
        self.rates: dict[str, list[Decimal]] = {}
        for currency, valid_from, rate in (
            ExchangeRate.objects.filter(tenant=tenant)
            .order_by("currency", "valid_from")
            .values_list("currency", "valid_from", "rate")
        ):
            self.days.setdefault(currency, []).append(valid_from)
            self.rates.setdefault(currency, []).append(rate)

    def on(self, currency: str, day: date) -> Decimal:
        if currency == self.tenant.base_currency:
            return ONE
        i = bisect_right(self.days.get(currency, []), day)
        if i == 0:
            return ledger.rate_on(self.tenant, currency, day)  # raises NoRate
        return self.rates[currency][i - 1]


# --- The preview ---------------------------------------------------------------------


@dataclass
class _Deal:
    pk: uuid.UUID
    code: str
    partner_id: uuid.UUID
    amount: Decimal
    currency: str
    close: date


def _load_version(version: PlanVersion) -> PlanVersion:
    return (
        PlanVersion.objects.select_related("plan", "tenant")
        .prefetch_related("brackets", "tiers", "regions", "product_lines")
        .get(pk=version.pk)
    )


def _deals(tenant: Tenant, version: PlanVersion, start: date, end: date) -> list[_Deal]:
    """Won deals closed in [start, end] naming one of the version's product
    lines (if it lists any), in close-date order (ties in the order they were
    registered: ids are time-ordered)."""
    won = DealRegistration.objects.filter(
        tenant=tenant,
        status=DealRegistration.Status.WON,
        won_amount__isnull=False,
        won_close_date__gte=start,
        won_close_date__lte=end,
    )
    rows = [
        # Filtered to won deals with an amount; a win records its close date.
        _Deal(
            pk, code, partner_id, cast(Decimal, amount), won_currency or currency, cast(date, close)
        )
        for pk, code, partner_id, amount, won_currency, currency, close in won.order_by(
            "won_close_date", "pk"
        ).values_list(
            "pk", "code", "partner_id", "won_amount", "won_currency", "currency", "won_close_date"
        )
    ]
    if not version.product_lines.all():
        return rows
    through = DealRegistration.product_lines.through
    products: dict = {}
    for deal_id, product_id in through.objects.filter(dealregistration__in=won).values_list(
        "dealregistration_id", "productline_id"
    ):
        products.setdefault(deal_id, set()).add(product_id)
    return [d for d in rows if ledger.products_eligible(version, products.get(d.pk, set()))]


# Which tier a partner held (or is taken to hold) on a day: (partner id, day) -> tier id.
TierOf = Callable[[Any, date], Any]


def tier_history(partners: Iterable[Partner]) -> TierOf:
    """The tiers ``partners`` actually held (``partners.tiers``, one query)."""
    lines = timelines(partners)
    return lambda partner_id, day: lines[partner_id].on(day)


def preview(
    version: PlanVersion, start: date, end: date, *, tiers: TierOf | None = None
) -> PreviewResult:
    """What ``version`` would have paid on the deals closed in [start, end]
    (see the module text). Reads only. ``tiers``: the tier each partner is
    taken to hold on a day, instead of the tier it held (its history)."""
    version = _load_version(version)
    tenant = version.tenant
    result = PreviewResult(
        version=version, start=start, end=end, base_currency=tenant.base_currency
    )
    deals = _deals(tenant, version, start, end)
    partners = {
        p.pk: p
        for p in Partner.objects.filter(tenant=tenant, pk__in={d.partner_id for d in deals}).only(
            "id", "name", "tier_id", "partner_type", "region_id"
        )
    }
    tier_of = tiers or tier_history(partners.values())
    eligible: dict = {}  # (partner, tier) -> bool

    def qualifies(partner_id: uuid.UUID, day: date) -> bool:
        """Whether the partner qualifies in the tier it held on ``day``."""
        tier_id = tier_of(partner_id, day)
        key = (partner_id, tier_id)
        if key not in eligible:
            eligible[key] = ledger.partner_eligible(version, partners[partner_id], tier_id=tier_id)
        return eligible[key]

    deals = [d for d in deals if d.partner_id in partners]
    rows: dict[uuid.UUID, PreviewRow] = {}

    def row_of(partner_id: uuid.UUID) -> PreviewRow:
        if partner_id not in rows:
            rows[partner_id] = PreviewRow(partner_id, partners[partner_id].name)
        return rows[partner_id]

    rates = _Rates(tenant)
    rule = Rule.of(version)
    if version.plan.kind == Plan.Kind.REBATE:
        result.periods = rebate_periods(version, start, end)
        _rebates(result, rule, deals, rates, row_of, qualifies)
    else:
        deals = [d for d in deals if qualifies(d.partner_id, d.close)]
        _per_deal(result, version, rule, deals, rates, row_of)
    _actuals(result, version, rows, partners)
    result.rows = sorted(rows.values(), key=lambda r: (r.partner_name.lower(), str(r.partner_id)))
    return result


def _problem(result: PreviewResult, row: PreviewRow, deal: _Deal, error: Exception) -> None:
    row.incomplete = True
    result.problems.append(PreviewProblem(deal.code, row.partner_name, str(error)))


def _per_deal(
    result: PreviewResult,
    version: PlanVersion,
    rule: Rule,
    deals: list[_Deal],
    rates: "_Rates",
    row_of: Callable[[uuid.UUID], PreviewRow],
) -> None:
    base = result.base_currency
    # (partner, rule period start) -> [attainment (base, unrounded), accrued (base)]
    carried: dict = {}
    for deal in deals:
        row = row_of(deal.partner_id)
        try:
            rate = rates.on(deal.currency, deal.close)
        except ledger.NoRate as error:
            _problem(result, row, deal, error)
            continue
        period = periods.period_start(deal.close, version.period)
        totals = carried.setdefault((deal.partner_id, period), [ZERO, ZERO])
        target = round_money(
            deal_commission(
                rule,
                deal.amount,
                rate=rate,
                attainment_before=totals[0],
                accrued_in_period=totals[1],
            ),
            deal.currency,
        )
        row.deals += 1
        row.volume += round_money(deal.amount * rate, base)
        if target > 0:  # sync_deal writes no zero accrual
            paid = to_base(target, rate, base)
            row.would_pay += paid
            totals[0] += deal.amount * rate
            totals[1] += paid


def _rebates(
    result: PreviewResult,
    rule: Rule,
    deals: list[_Deal],
    rates: "_Rates",
    row_of: Callable[[uuid.UUID], PreviewRow],
    qualifies: Callable[[uuid.UUID, date], bool],
) -> None:
    base = result.base_currency
    for first, last in result.periods:
        volumes: dict = {}
        for deal in deals:
            # The tier held on the period's last day decides (``rebates``).
            if not first <= deal.close <= last or not qualifies(deal.partner_id, last):
                continue
            row = row_of(deal.partner_id)
            try:
                rate = rates.on(deal.currency, deal.close)
            except ledger.NoRate as error:
                _problem(result, row, deal, error)
                continue
            value = round_money(deal.amount * rate, base)
            volumes[deal.partner_id] = volumes.get(deal.partner_id, ZERO) + value
            row.deals += 1
            row.volume += value
        for partner_id, volume in volumes.items():
            row_of(partner_id).would_pay += round_money(volume_rebate(rule, volume), base)


def _actuals(result: PreviewResult, version: PlanVersion, rows: dict, partners: dict) -> None:
    """What the ledger holds from every version of the plan for the same
    deals (or periods): net of adjustments and clawbacks, base currency."""
    entries = LedgerEntry.objects.filter(tenant=version.tenant, plan_version__plan=version.plan)
    if version.plan.kind == Plan.Kind.REBATE:
        entries = entries.filter(
            source=LedgerEntry.Source.REBATE,
            period_start__gte=result.start,
            effective_date__lte=result.end,
        )
    else:
        entries = entries.filter(
            source__in=[LedgerEntry.Source.DEAL, LedgerEntry.Source.SPIFF],
            registration__won_close_date__gte=result.start,
            registration__won_close_date__lte=result.end,
        )
    totals = dict(
        entries.order_by()
        .values("partner_id")
        .annotate(total=Sum("amount_base"))
        .values_list("partner_id", "total")
    )
    missing = set(totals) - set(partners)
    if missing:
        partners.update(
            (p.pk, p) for p in Partner.objects.filter(tenant=version.tenant, pk__in=missing)
        )
    for partner_id, total in totals.items():
        if partner_id not in rows:
            rows[partner_id] = PreviewRow(partner_id, partners[partner_id].name)
        rows[partner_id].actual = total or ZERO


# --- CSV -----------------------------------------------------------------------------

CSV_COLUMNS = [
    "partner",
    "deals",
    "won volume",
    "would pay",
    "actually accrued",
    "difference",
    "currency",
    "incomplete",
]


def result_rows(result: PreviewResult) -> Iterator[tuple[object, ...]]:
    """The preview table's rows for its CSV (a totals line last)."""
    return (
        (
            row.partner_name,
            row.deals,
            row.volume,
            row.would_pay,
            row.actual,
            row.difference,
            result.base_currency,
            "yes" if row.incomplete else "",
        )
        for row in [*result.rows, result.totals]
    )


def csv_download(tenant_slug: str, result: PreviewResult) -> HttpResponseBase:
    """The preview as a CSV file named for the plan version and the period."""
    version = result.version
    name = (
        f"{tenant_slug}-preview-{version.plan.name}-v{version.number}-"
        f"{result.start:%Y%m%d}-{result.end:%Y%m%d}.csv"
    )
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return csv_response(safe, result_rows(result), CSV_COLUMNS)
