"""The apps' metrics read from the rollups: what every dashboard, digest and
export shows.

Each metric declares how it is read (``Metric.rollup``: a total, a rate, a
share or a percentile of facts); this module sums the facts over the days a
figure needs, for several periods at once (a period, the one before, the
buckets of its trend) in a constant number of queries: one for every
additive fact, one per period for each series of durations. The values are
rounded as the metrics' own computations round them (``prm.tenancy.figures``),
so a figure read here equals the one computed from the apps' tables
(``make bench-reporting`` checks every one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Sum, Value, When

from prm.tenancy import drill, registry
from prm.tenancy.declarations import (
    Days,
    Filters,
    Good,
    Metric,
    Period,
    Quantile,
    Rate,
    Share,
    Total,
    Unit,
)
from prm.tenancy.figures import PercentileCont, money, one_decimal, percent
from prm.tenancy.models import Membership, Tenant

from .models import MeasurementDay, PartnerDay, SegmentDay, SegmentTotal
from .periods import buckets

Value_ = Decimal | int | None


def dims_q(filters: Filters) -> Q:
    """The filters as a condition on rollup rows (their dimensions)."""
    q = Q()
    for column, value in (
        ("region_id", filters.region),
        ("tier_id", filters.tier),
        ("partner_type", filters.partner_type),
        ("channel_manager_id", filters.channel_manager),
    ):
        if value not in (None, ""):
            q &= Q(**{column: value})
    return q


def _facts_of(metric: Metric) -> list[tuple[str, Days, bool]]:
    """(fact, days, vendor's own?) each of a metric's figures sums."""
    rollup = metric.rollup
    if isinstance(rollup, Total):
        return [(rollup.fact, rollup.days, False)]
    if isinstance(rollup, Rate):
        return [(rollup.part, rollup.days, False), (rollup.whole, rollup.days, False)]
    if isinstance(rollup, Share):
        return [(rollup.part, rollup.days, False), (rollup.other, rollup.days, True)]
    return []


@dataclass
class _Sums:
    """Per-day sums of the facts asked for, from the first day of the
    earliest period on, partners' and the vendor's own; and every fact
    a balance needs summed over all days (``SegmentTotal``)."""

    partners: dict[date, dict[str, Decimal]] = field(default_factory=dict)
    vendor: dict[date, dict[str, Decimal]] = field(default_factory=dict)
    all_partners: dict[str, Decimal] = field(default_factory=dict)
    all_vendor: dict[str, Decimal] = field(default_factory=dict)

    def total(self, fact: str, days: Days, period: Period, vendor: bool) -> Decimal:
        table = self.vendor if vendor else self.partners
        if days == Days.PERIOD:
            wanted = (v for d, v in table.items() if period.start <= d <= period.end)
            return sum((values.get(fact) or Decimal(0) for values in wanted), Decimal(0))
        everything = (self.all_vendor if vendor else self.all_partners).get(fact) or Decimal(0)
        if days == Days.ALL:
            return everything
        # Up to the period's end: everything less the days after it.
        after = (v for d, v in table.items() if d > period.end)
        return everything - sum((values.get(fact) or Decimal(0) for values in after), Decimal(0))


def _rows(tenant: Tenant, filters: Filters, partner: Any) -> QuerySet[Any]:
    if partner is not None:
        return PartnerDay.objects.filter(tenant_id=tenant.pk, partner_id=partner)
    return SegmentDay.objects.filter(tenant_id=tenant.pk).filter(_mine_or_vendor(filters))


def _mine_or_vendor(filters: Filters) -> Q:
    return (Q(partners=True) & dims_q(filters)) | Q(partners=False)


def _sums(
    tenant: Tenant,
    metrics: Sequence[Metric],
    periods: Sequence[Period],
    filters: Filters,
    partner: Any,
) -> _Sums:
    """Two queries: the days from the earliest period's start on, grouped by
    day; the all-day totals of the facts a balance needs."""
    wanted = [f for m in metrics for f in _facts_of(m)]
    sums = _Sums()
    if not wanted:
        return sums
    facts = sorted({fact for fact, _, _ in wanted})
    rows = _rows(tenant, filters, partner).filter(day__gte=min(p.start for p in periods))
    if all(days == Days.PERIOD for _, days, _ in wanted):
        rows = rows.filter(day__lte=max(p.end for p in periods))
    totals = {f: Sum(f) for f in facts}
    if partner is not None:
        # One organisation's rows (PartnerDay): every one of them a partner's.
        for row in rows.values("day").annotate(**totals).order_by():
            sums.partners[row["day"]] = {f: row[f] for f in facts}
    else:
        for row in rows.values("day", "partners").annotate(**totals).order_by():
            table = sums.partners if row["partners"] else sums.vendor
            table[row["day"]] = {f: row[f] for f in facts}
    balances = sorted({fact for fact, days, _ in wanted if days != Days.PERIOD})
    if not balances:
        return sums
    if partner is not None:
        found = PartnerDay.objects.filter(tenant_id=tenant.pk, partner_id=partner).aggregate(
            **{f: Sum(f) for f in balances}
        )
        sums.all_partners = {f: found[f] or Decimal(0) for f in balances}
        return sums
    grouped = (
        SegmentTotal.objects.filter(tenant_id=tenant.pk)
        .filter(_mine_or_vendor(filters))
        .values("partners")
        .annotate(**{f: Sum(f) for f in balances})
        .order_by()
    )
    for row in grouped:
        found = {f: row[f] or Decimal(0) for f in balances}
        if row["partners"]:
            sums.all_partners = found
        else:
            sums.all_vendor = found
    return sums


def _quantiles(
    tenant: Tenant,
    metrics: Sequence[Metric],
    periods: Sequence[Period],
    filters: Filters,
    partner: Any,
) -> dict[tuple[str, float, int], float | None]:
    """(series, fraction, period index) → the percentile: one query per
    series, the periods told apart by a CASE (they may overlap: a query per
    group of periods that do not)."""
    fractions: dict[str, set[float]] = defaultdict(set)
    for metric in metrics:
        if isinstance(metric.rollup, Quantile):
            fractions[metric.rollup.series].add(metric.rollup.fraction)
    found: dict[tuple[str, float, int], float | None] = {}
    for series, wanted in fractions.items():
        rows = MeasurementDay.objects.filter(tenant_id=tenant.pk, series=series)
        rows = (
            rows.filter(partner_id=partner) if partner is not None else rows.filter(dims_q(filters))
        )
        for group in _disjoint(periods):
            which = Case(
                *(
                    When(day__range=(periods[i].start, periods[i].end), then=Value(i))
                    for i in group
                ),
                default=Value(-1),
                output_field=IntegerField(),
            )
            first = min(periods[i].start for i in group)
            last = max(periods[i].end for i in group)
            aggregates = {
                f"p{index}": PercentileCont("value", fraction=fraction)
                for index, fraction in enumerate(sorted(wanted))
            }
            result = (
                rows.filter(day__gte=first, day__lte=last)
                .annotate(period=which)
                .values("period")
                .annotate(**aggregates)
                .order_by()
            )
            for row in result:
                for index, fraction in enumerate(sorted(wanted)):
                    found[(series, fraction, row["period"])] = row[f"p{index}"]
    return found


def _disjoint(periods: Sequence[Period]) -> list[list[int]]:
    """The periods' indexes in groups of periods that do not overlap."""
    groups: list[list[int]] = []
    for index, period in enumerate(periods):
        for group in groups:
            if all(period.end < periods[i].start or period.start > periods[i].end for i in group):
                group.append(index)
                break
        else:
            groups.append([index])
    return groups


def _value(
    metric: Metric,
    period: Period,
    index: int,
    sums: _Sums,
    quantiles: dict[tuple[str, float, int], float | None],
) -> Value_:
    rollup = metric.rollup
    if isinstance(rollup, Total):
        total = sums.total(rollup.fact, rollup.days, period, False) * rollup.sign
        return int(total) if metric.unit == Unit.COUNT else money(total)
    if isinstance(rollup, Rate):
        return percent(
            sums.total(rollup.part, rollup.days, period, False),
            sums.total(rollup.whole, rollup.days, period, False),
        )
    if isinstance(rollup, Share):
        part = sums.total(rollup.part, rollup.days, period, False)
        other = sums.total(rollup.other, rollup.days, period, True)
        return percent(money(part), money(part) + money(other))
    if isinstance(rollup, Quantile):
        found = quantiles.get((rollup.series, rollup.fraction, index))
        if found is None:
            return None
        return one_decimal(Decimal(str(found)) / rollup.scale)
    raise ValueError(f"{metric.key} declares no rollup.")


def values(
    tenant: Tenant,
    metrics: Sequence[Metric],
    periods: Sequence[Period],
    filters: Filters,
    *,
    partner: Any = None,
) -> list[dict[str, Value_]]:
    """Each period's value of each metric (key → value), from the rollups;
    ``partner`` (an id) narrows them to one partner's figures."""
    metrics = [m for m in metrics if m.rollup is not None]
    sums = _sums(tenant, metrics, periods, filters, partner)
    quantiles = _quantiles(tenant, metrics, periods, filters, partner)
    return [
        {m.key: _value(m, period, index, sums, quantiles) for m in metrics}
        for index, period in enumerate(periods)
    ]


# --- Figures for the pages ------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A metric's value for a period, beside the period before and the
    trend inside it (``series``: (bucket, value)), with where it drills."""

    metric: Metric
    value: Value_
    previous: Value_
    series: list[tuple[Period, Value_]]
    url: str | None

    @property
    def change(self) -> Decimal | None:
        """The difference from the previous period (points for a rate)."""
        if self.value is None or self.previous is None:
            return None
        return Decimal(self.value) - Decimal(self.previous)

    @property
    def verdict(self) -> str:
        """ "better", "worse" or "" (no change, or neither is good)."""
        change = self.change
        if not change or self.metric.good == Good.NEITHER:
            return ""
        up = change > 0
        return "better" if up == (self.metric.good == Good.HIGH) else "worse"

    @property
    def trend(self) -> list[Value_]:
        return [value for _, value in self.series]


def visible(metrics: Iterable[Metric], membership: Membership | None) -> list[Metric]:
    if membership is None:
        return list(metrics)
    return [m for m in metrics if all(membership.has_perm(p) for p in m.perms)]


def headline(
    tenant: Tenant,
    period: Period,
    filters: Filters,
    *,
    partner: Any = None,
    keys: Sequence[str] | None = None,
    membership: Membership | None = None,
    trend: bool = True,
    links: bool = True,
) -> list[Figure]:
    """The figures of these metrics (default: every metric) for ``period``,
    with the previous period and the trend. A metric without a rollup
    (one read from a small table of its own, e.g. the at-risk partners) is
    computed directly, for the period and the one before only, and not for
    one partner."""
    declared = registry.metrics()
    chosen = [declared[k] for k in keys] if keys is not None else list(declared.values())
    chosen = visible(chosen, membership)
    parts = buckets(period) if trend else []
    periods = [period, period.previous(), *parts]
    rolled = [m for m in chosen if m.rollup is not None]
    found = values(tenant, rolled, periods, filters, partner=partner)
    figures = []
    for m in chosen:
        if m.rollup is not None:
            value, previous = found[0][m.key], found[1][m.key]
            series = [(part, found[2 + i][m.key]) for i, part in enumerate(parts)]
        elif partner is None:
            value = m.compute(tenant, period, filters)
            previous = m.compute(tenant, period.previous(), filters)
            series = []
        else:
            continue
        url = drill.link(m, tenant, period, filters) if links and partner is None else None
        figures.append(Figure(m, value, previous, series, url))
    return figures
