"""The executive dashboard: the program's figures beside the period before,
their trends, charts of revenue, pipeline, the funnel, SLA compliance and
incentive spend against revenue, the top partners and those falling back."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from prm.charts import Chart, Series, Value
from prm.tenancy import drill, registry
from prm.tenancy.declarations import Filters, Period, Unit
from prm.tenancy.figures import percent
from prm.tenancy.models import Membership, Tenant

from ..exports import Column, Table
from ..figures import Figure, headline
from ..periods import bucket_label, buckets
from . import common

TOP = 10


@dataclass
class Executive:
    period: Period
    sections: list[common.Section]
    charts: list[Chart]
    tables: dict[str, Table]


def _series_of(figures: dict[str, Figure], key: str) -> list[Any]:
    figure = figures.get(key)
    return figure.trend if figure else []


def _drills(
    tenant: Tenant,
    key: str,
    periods: list[Period],
    filters: Filters,
    *,
    tiers: list[Any] | None = None,
) -> list[str | None] | None:
    """Where each point of a metric's series drills: the metric's own list,
    for the point's days (and, given ``tiers``, the point's tier); None when
    the metric is not declared."""
    metric = registry.metrics().get(key)
    if metric is None:
        return None
    if tiers is not None:
        return [
            drill.link(metric, tenant, part, replace(filters, tier=tier)) if tier else None
            for part, tier in zip(periods, tiers, strict=True)
        ]
    return [drill.link(metric, tenant, part, filters) for part in periods]


SPLIT_FILTER = {"region": "region", "tier": "tier", "partner_type": "partner_type"}


def build(
    tenant: Tenant, membership: Membership, period: Period, filters: Filters, split: str
) -> Executive:
    figures = headline(tenant, period, filters, membership=membership)
    by_key = {f.metric.key: f for f in figures}
    parts = buckets(period)
    labels = [bucket_label(p, period, short=True) for p in parts]
    currency = tenant.base_currency
    charts: list[Chart] = []
    if "dealreg.partner_sourced_revenue" in by_key:
        split_facts = common.split_series(
            tenant, ["won_revenue", "approved_value"], parts, filters, split
        )
        names = common.dimension_labels(tenant, split)
        for fact, drills, title, description in (
            (
                "won_revenue",
                "dealreg.partner_sourced_revenue",
                "Partner-sourced revenue",
                f"Won revenue by close date, by {split.replace('_', ' ')}.",
            ),
            (
                "approved_value",
                None,  # no list holds exactly these (base currency, approved then)
                "Partner-sourced pipeline added",
                f"Estimated value of registrations approved, by {split.replace('_', ' ')}.",
            ),
        ):
            charts.append(
                Chart(
                    key=f"{fact}_by_{split}",
                    title=title,
                    kind="stacked-bar",
                    unit=Unit.MONEY,
                    currency=currency,
                    labels=labels,
                    series=[
                        Series(
                            names.get(value, "Not set"),
                            list[Value](values),
                            _drills(
                                tenant,
                                drills,
                                parts,
                                replace(filters, **{SPLIT_FILTER[split]: value or None}),
                            )
                            if drills and value
                            else None,
                        )
                        for value, values in sorted(
                            split_facts[fact].items(), key=lambda kv: names.get(kv[0], "~")
                        )
                    ],
                    description=description,
                )
            )
        funnel = common.totals(tenant, ["submitted", "approved", "won"], period, filters)
        charts.append(
            Chart(
                key="funnel",
                title="From registration to won",
                kind="funnel",
                unit=Unit.COUNT,
                labels=["Submitted", "Approved", "Won"],
                series=[
                    Series(
                        "Registrations",
                        [int(funnel["submitted"]), int(funnel["approved"]), int(funnel["won"])],
                        # Submitted: that figure's list; approved: the cohort
                        # the conversion rate divides by (decided, not rejected).
                        [
                            *(_drills(tenant, "dealreg.submitted", [period], filters) or [None]),
                            *(_drills(tenant, "dealreg.conversion", [period], filters) or [None]),
                            None,
                        ],
                    )
                ],
                description=(
                    "Registrations submitted, approved and won in the period (each counted "
                    "on its own day: a deal won this period may have been submitted earlier)."
                ),
            )
        )
        charts.append(
            Chart(
                key="sla",
                title="SLA compliance and approval rate",
                kind="line",
                unit=Unit.PERCENT,
                labels=labels,
                series=[
                    Series(
                        "SLA compliance",
                        _series_of(by_key, "dealreg.sla_compliance"),
                        _drills(tenant, "dealreg.sla_compliance", parts, filters),
                    ),
                    Series(
                        "Approval rate",
                        _series_of(by_key, "dealreg.approval_rate"),
                        _drills(tenant, "dealreg.approval_rate", parts, filters),
                    ),
                ],
                description=(
                    "Registrations decided within their SLA, and approved, of those decided."
                ),
            )
        )
    if "incentives.accrued" in by_key:
        charts.append(
            Chart(
                key="spend",
                title="Incentive spend and partner-sourced revenue",
                kind="bar",
                unit=Unit.MONEY,
                currency=currency,
                labels=labels,
                series=[
                    Series(
                        "Revenue",
                        _series_of(by_key, "dealreg.partner_sourced_revenue"),
                        _drills(tenant, "dealreg.partner_sourced_revenue", parts, filters),
                    ),
                    Series(
                        "Incentives accrued",
                        _series_of(by_key, "incentives.accrued"),
                        _drills(tenant, "incentives.accrued", parts, filters),
                    ),
                    Series(
                        "Incentives paid",
                        _series_of(by_key, "incentives.paid"),
                        _drills(tenant, "incentives.paid", parts, filters),
                    ),
                ],
                description="What partners earned and were paid, beside the revenue they sourced.",
            )
        )
    if "partners.active" in by_key:
        tiers = common.levels_by(tenant, "active_delta", period, filters, "tier")
        known = common.tiers(tenant)
        shown = sorted(tiers, key=lambda t: known.get(t, ("", -1))[::-1], reverse=True)
        charts.append(
            Chart(
                key="tiers",
                title="Active partners by tier",
                kind="bar",
                unit=Unit.COUNT,
                labels=[known[t][0] if t in known else "No tier" for t in shown],
                series=[
                    Series(
                        "Active partners",
                        [int(tiers[t]) for t in shown],
                        _drills(
                            tenant,
                            "partners.active",
                            [period] * len(shown),
                            filters,
                            tiers=shown,
                        ),
                    )
                ],
                description="Partners active at the period's end, in the tier they had then.",
            )
        )
    charts = [c for c in charts if any(s.values for s in c.series)]
    tables = {"kpis": kpi_table(figures, period)}
    if "dealreg.partner_sourced_revenue" in by_key:
        tables["top_partners"] = partner_table(
            "top_partners",
            "Top partners by revenue",
            common.ranked(tenant, period, filters, falling=False, limit=TOP),
            currency,
        )
        tables["falling_partners"] = partner_table(
            "falling_partners",
            "Partners whose revenue fell most",
            common.ranked(tenant, period, filters, falling=True, limit=TOP),
            currency,
        )
    return Executive(period, common.sections(figures, currency), charts, tables)


def kpi_table(figures: list[Figure], period: Period) -> Table:
    return Table(
        key="kpis",
        title="Program figures",
        columns=[
            Column("metric", "Figure", None),
            Column("value", "This period", None),
            Column("previous", "Previous period", None),
            Column("definition", "Definition", None),
        ],
        rows=[
            {
                "metric": f.metric.name,
                "value": f.value,
                "previous": f.previous,
                "definition": f.metric.definition,
            }
            for f in figures
        ],
    )


def partner_table(key: str, title: str, rows: list[dict[str, Any]], currency: str) -> Table:
    return Table(
        key=key,
        title=title,
        columns=[
            Column("partner", "Partner", None),
            Column("revenue", f"Revenue ({currency})", Unit.MONEY),
            Column("previous_revenue", f"Previous period ({currency})", Unit.MONEY),
            Column("won", "Won", Unit.COUNT),
            Column("win_rate", "Win rate", Unit.PERCENT),
            Column("pipeline", f"Open pipeline ({currency})", Unit.MONEY),
        ],
        rows=[
            {
                "partner": row["partner__name"],
                "partner_id": row["partner_id"],
                "revenue": row["revenue"],
                "previous_revenue": row["previous_revenue"],
                "won": row["won"],
                "win_rate": percent(row["won"], row["closed"]),
                "pipeline": row["pipeline"],
            }
            for row in rows
        ],
    )
