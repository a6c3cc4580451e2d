"""Pieces the dashboards share: sections of figures, partner names and the
dimensions' labels, fact totals and per-bucket splits from the rollups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, IntegerField, Max, Q, QuerySet, Sum, When

from partners.models import Partner, Region, Tier
from prm import format as fmt
from prm.charts import format_value
from prm.tenancy.declarations import Filters, Period, Unit
from prm.tenancy.models import Tenant

from ..figures import Figure, dims_q
from ..models import PartnerDay, SegmentDay, SegmentTotal

# The program's outcomes come first on every dashboard; the rest follow in
# the order the apps declare them, under their app's name.
OUTCOMES = (
    "dealreg.partner_sourced_revenue",
    "dealreg.partner_sourced_pipeline",
    "dealreg.channel_revenue_contribution",
    "dealreg.channel_pipeline_share",
    "dealreg.win_rate",
    "dealreg.conversion",
    "partners.active",
    # METRICS.md's outcome metric from onboarding (a string: reporting
    # reads declarations, it imports no app's metrics).
    "onboarding.activation_rate",
)
SECTION_NAMES = {
    "dealreg": "Deal registration",
    "incentives": "Incentives",
    "partners": "Partners and adoption",
}


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    figures: list[Figure]
    tiles: list[Any] = field(default_factory=list)


def sections(figures: Iterable[Figure], currency: str) -> list[Section]:
    """The figures in sections: outcomes, then each app's process figures."""
    figures = list(figures)
    by_key = {f.metric.key: f for f in figures}
    outcomes = [by_key[k] for k in OUTCOMES if k in by_key]
    found = [Section("outcomes", "Outcomes", outcomes, tiles(outcomes, currency))]
    grouped: dict[str, list[Figure]] = defaultdict(list)
    for figure in figures:
        if figure.metric.key not in OUTCOMES:
            grouped[figure.metric.key.split(".")[0]].append(figure)
    for app, members in grouped.items():
        title = SECTION_NAMES.get(app, app.replace("_", " ").title())
        found.append(Section(app, title, members, tiles(members, currency)))
    return [s for s in found if s.figures]


SPLITS = {"region": "region_id", "tier": "tier_id", "partner_type": "partner_type"}


def dimension_labels(tenant: Tenant, split: str) -> dict[Any, str]:
    if split == "region":
        return dict(Region.objects.filter(tenant_id=tenant.pk).values_list("pk", "name"))
    if split == "tier":
        return dict(Tier.objects.filter(tenant_id=tenant.pk).values_list("pk", "name"))
    return {value: str(label) for value, label in Partner.Type.choices}


def tiers(tenant: Tenant) -> dict[Any, tuple[str, int]]:
    """Tier id → (name, rank): one query."""
    return {
        pk: (name, rank)
        for pk, name, rank in Tier.objects.filter(tenant_id=tenant.pk).values_list(
            "pk", "name", "rank"
        )
    }


def _bucket(parts: Sequence[Period]) -> Case:
    return Case(
        *(When(day__range=(p.start, p.end), then=i) for i, p in enumerate(parts)),
        default=-1,
        output_field=IntegerField(),
    )


def split_series(
    tenant: Tenant,
    facts: Sequence[str],
    parts: Sequence[Period],
    filters: Filters,
    split: str,
) -> dict[str, dict[Any, list[Decimal]]]:
    """fact → dimension value → the fact's sum in each bucket: one query."""
    column = SPLITS[split]
    rows = (
        SegmentDay.objects.filter(tenant_id=tenant.pk, partners=True)
        .filter(dims_q(filters), day__gte=parts[0].start, day__lte=parts[-1].end)
        .annotate(bucket=_bucket(parts))
        .values("bucket", column)
        .annotate(**{f: Sum(f) for f in facts})
        .order_by()
    )
    found: dict[str, dict[Any, list[Decimal]]] = {
        f: defaultdict(lambda: [Decimal(0)] * len(parts)) for f in facts
    }
    for row in rows:
        for fact in facts:
            found[fact][row[column]][row["bucket"]] += row[fact] or 0
    return found


def levels_by(
    tenant: Tenant, fact: str, period: Period, filters: Filters, split: str
) -> dict[Any, Decimal]:
    """A level (a fact kept as changes, e.g. active partners) at the
    period's end per value of a dimension: the all-day totals less the days
    after the end. Two queries."""
    column = SPLITS[split]
    everything = (
        SegmentTotal.objects.filter(tenant_id=tenant.pk, partners=True)
        .filter(dims_q(filters))
        .values(column)
        .annotate(total=Sum(fact))
        .order_by()
    )
    later = (
        SegmentDay.objects.filter(tenant_id=tenant.pk, partners=True, day__gt=period.end)
        .filter(dims_q(filters))
        .values(column)
        .annotate(total=Sum(fact))
        .order_by()
    )
    found: dict[Any, Decimal] = defaultdict(Decimal)
    for row in everything:
        found[row[column]] += row["total"] or 0
    for row in later:
        found[row[column]] -= row["total"] or 0
    return {key: value for key, value in found.items() if value}


def totals(
    tenant: Tenant, facts: Sequence[str], period: Period, filters: Filters, *, partner: Any = None
) -> dict[str, Decimal]:
    """Each fact's sum over the period: one query."""
    rows: QuerySet[Any]
    if partner is not None:
        rows = PartnerDay.objects.filter(tenant_id=tenant.pk, partner_id=partner)
    else:
        rows = SegmentDay.objects.filter(tenant_id=tenant.pk, partners=True).filter(dims_q(filters))
    found = rows.filter(day__gte=period.start, day__lte=period.end).aggregate(
        **{f: Sum(f) for f in facts}
    )
    return {f: found[f] or Decimal(0) for f in facts}


def partner_rows(tenant: Tenant, filters: Filters) -> QuerySet[PartnerDay]:
    return PartnerDay.objects.filter(tenant_id=tenant.pk, partner_id__isnull=False).filter(
        dims_q(filters)
    )


def per_partner(
    tenant: Tenant,
    period: Period,
    filters: Filters,
    *,
    partners: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """Per partner: revenue, wins, closed, submissions in the period; the
    previous period's revenue; the open pipeline now; the last day it
    submitted a registration. One query."""
    previous = period.previous()
    in_period = Q(day__gte=period.start, day__lte=period.end)
    before = Q(day__gte=previous.start, day__lte=previous.end)
    rows = partner_rows(tenant, filters)
    if partners is not None:
        rows = rows.filter(partner_id__in=partners)
    found = (
        rows.values("partner_id")
        .annotate(
            revenue=Sum("won_revenue", filter=in_period, default=0),
            previous_revenue=Sum("won_revenue", filter=before, default=0),
            won=Sum("won", filter=in_period, default=0),
            closed=Sum("closed", filter=in_period, default=0),
            submissions=Sum("submitted", filter=in_period, default=0),
            pipeline=Sum("open_pipeline", default=0),
            last_submitted=Max("day", filter=Q(submitted__gt=0)),
        )
        .order_by()
    )
    return list(found)


def ranked(
    tenant: Tenant, period: Period, filters: Filters, *, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The partners with the most revenue in the period, and those whose
    revenue fell most against the period before, with their figures: one
    query over the partner-days with revenue (a covering index), one for
    the chosen partners' figures."""
    previous = period.previous()
    in_period = Q(day__gte=period.start, day__lte=period.end)
    rows = list(
        PartnerDay.objects.filter(tenant_id=tenant.pk, day__gte=previous.start, day__lte=period.end)
        .exclude(won_revenue=0)
        .filter(dims_q(filters))
        .values("partner_id")
        .annotate(
            revenue=Sum("won_revenue", filter=in_period, default=0),
            previous_revenue=Sum("won_revenue", filter=~in_period, default=0),
        )
        .order_by()
    )
    top = sorted(
        (r for r in rows if r["revenue"] > 0), key=lambda r: (-r["revenue"], str(r["partner_id"]))
    )[:limit]
    falling = sorted(
        (r for r in rows if r["revenue"] < r["previous_revenue"]),
        key=lambda r: (r["revenue"] - r["previous_revenue"], str(r["partner_id"])),
    )[:limit]
    chosen = [r["partner_id"] for r in (*top, *falling)]
    details = {
        row["partner_id"]: row for row in per_partner(tenant, period, filters, partners=chosen)
    }
    names = dict(Partner.objects.filter(pk__in=chosen).values_list("pk", "name"))
    for partner, row in details.items():
        row["partner__name"] = names.get(partner, "(deleted partner)")
    return (
        [details[r["partner_id"]] for r in top if r["partner_id"] in details],
        [details[r["partner_id"]] for r in falling if r["partner_id"] in details],
    )


# --- Tiles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """A figure as a tile shows it: the value, the previous period's, the
    change (in points for a rate) and whether it is for the better."""

    figure: Figure
    value: str
    previous: str
    change: str
    verdict: str

    @property
    def metric(self) -> Any:
        return self.figure.metric


def sign(value: Decimal) -> str:
    return "+" if value > 0 else "\u2212" if value < 0 else ""


def tile(figure: Figure, currency: str) -> Tile:
    unit = figure.metric.unit
    change = figure.change
    if change is None:
        shown = ""
    elif not change:
        shown = "no change"
    elif unit == Unit.PERCENT:
        shown = f"{sign(change)}{fmt.number(abs(change))} pts"
    else:
        shown = sign(change) + format_value(abs(change), unit, currency)
        if unit in (Unit.MONEY, Unit.COUNT) and figure.previous:
            relative = (change * 100 / Decimal(figure.previous)).quantize(Decimal("1"))
            shown += f" ({sign(relative)}{abs(relative)}%)"
    return Tile(
        figure=figure,
        value=format_value(figure.value, unit, currency),
        previous=format_value(figure.previous, unit, currency),
        change=shown,
        verdict=figure.verdict,
    )


def tiles(figures: Iterable[Figure], currency: str) -> list[Tile]:
    return [tile(f, currency) for f in figures]


# --- Tables as the page shows them -------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    label: str
    numeric: bool = False
    url: str | None = None


@dataclass(frozen=True)
class Shown:
    """A table's rows as text (formatted once, in Python: no per-row
    template work), each partner's name linked where ``link`` says."""

    table: Any
    rows: list[list[Cell]]
    empty: str = ""


Link = Callable[[dict[str, Any]], str | None]


def shown(table: Any, currency: str, link: Link | None = None, empty: str = "") -> Shown:
    rows = []
    for row in table.rows:
        cells = []
        for index, column in enumerate(table.columns):
            value = row.get(column.key)
            if column.unit is not None:
                text = format_value(
                    value, column.unit, currency if column.unit == Unit.MONEY else ""
                )
            elif isinstance(value, datetime):
                text = fmt.moment(value)
            elif isinstance(value, date):
                text = fmt.day(value)
            else:
                text = fmt.EMPTY if value in (None, "") else str(value)
            url = link(row) if link is not None and index == 0 else None
            cells.append(Cell(text, column.label, column.unit is not None, url))
        rows.append(cells)
    return Shown(table, rows, empty)
