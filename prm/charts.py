"""Charts: one figure's numbers, drawn by Chart.js and listed in a table.

A :class:`Chart` is what a page hands to ``{% include "components/chart.html"
with chart=c %}``: the component draws it on a canvas (``static/js/charts.js``
reads :meth:`Chart.data` from a ``json_script`` element) and lists the same
numbers in a real table (:meth:`Chart.table`), which is the content without
JavaScript and stays reachable under "Show the numbers" with it. Every number
is formatted once, here, by :mod:`prm.format` (the rules of the ``{% load prm
%}`` filters), so a tooltip reads exactly as its table cell.

The chart is a presentation object of the design system, like the
components, so it lives in the foundation: the style guide shows it and any
app may draw one; the dashboards import it from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any, Literal

from prm import format as fmt
from prm.tenancy.declarations import Unit

Kind = Literal["line", "bar", "stacked-bar", "funnel"]
KINDS: tuple[str, ...] = ("line", "bar", "stacked-bar", "funnel")
Value = Decimal | int | None

# What the table's first column is called when the chart does not say.
DEFAULT_AXIS = {"funnel": "Stage"}
KIND_NAMES = {
    "line": "Line chart",
    "bar": "Bar chart",
    "stacked-bar": "Stacked bar chart",
    "funnel": "Funnel chart",
}


def format_value(value: Value, unit: Unit | str, currency: str = "") -> str:
    """A chart's number for people, by its unit: ``120,000.00 USD``,
    ``87.5%``, ``1,204``, ``12.5 hours``, ``3 days``; nothing: an en dash."""
    if value is None:
        return fmt.EMPTY
    unit = Unit(unit)
    if unit is Unit.MONEY:
        return fmt.money(value, currency)
    if unit is Unit.PERCENT:
        return fmt.percent(value)
    if unit is Unit.COUNT:
        return fmt.number(value)
    rounded = Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return fmt.plural(rounded, "hour" if unit is Unit.HOURS else "day")


def _drawn(value: Value) -> float | int | None:
    """The number Chart.js draws: a float is fine for a bar's height (the
    exact value is in the table and the tooltip's text)."""
    if value is None or isinstance(value, int):
        return value
    return float(value)


@dataclass(frozen=True)
class Series:
    """One line, or one set of bars: a value per label (None: no data there)
    and, optionally, per label the URL of the list that makes the value up."""

    name: str
    values: list[Value]
    urls: list[str | None] | None = None

    def url(self, index: int) -> str | None:
        return self.urls[index] if self.urls else None


@dataclass(frozen=True)
class Cell:
    value: Value
    text: str
    column: str  # the column's heading: the cell's data-label on a phone
    url: str | None = None


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[Cell]


@dataclass(frozen=True)
class Table:
    """The accessible table of a chart: ``header`` names the columns (the
    first is the labels' column), one row per label."""

    header: list[str]
    rows: list[Row]


@dataclass(frozen=True)
class Chart:
    """A chart of ``series`` over ``labels`` (periods, stages, regions).

    ``key`` names it on its page (its element ids derive from it, so keys
    are unique on a page). ``kind``: "line" (time series), "bar",
    "stacked-bar" (the table adds a total per label), "funnel" (one series of
    ordered stages, drawn as horizontal bars; the table adds each stage's
    share of the first). ``unit`` formats every number; ``currency`` is the
    code of money charts. ``axis`` heads the labels' column of the table
    (default "Period", "Stage" for a funnel).
    """

    key: str
    title: str
    kind: Kind
    unit: Unit
    labels: list[str]
    series: list[Series]
    description: str = ""
    currency: str = ""
    axis: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown chart kind {self.kind!r}: one of {', '.join(KINDS)}.")
        if not re.fullmatch(r"[A-Za-z][\w-]*", self.key):
            raise ValueError(f"A chart's key names element ids: {self.key!r} will not do.")
        for series in self.series:
            if len(series.values) != len(self.labels) or (
                series.urls is not None and len(series.urls) != len(self.labels)
            ):
                raise ValueError(
                    f"Series {series.name!r} of chart {self.key!r} needs one value "
                    f"(and URL) per label ({len(self.labels)})."
                )
        if self.unit == Unit.MONEY and not self.currency:
            raise ValueError(f"Money chart {self.key!r} needs its currency code.")

    # --- ids and words ----------------------------------------------------------------

    @property
    def dom_id(self) -> str:
        """The id of the ``json_script`` element holding :meth:`data`."""
        return f"chart-{self.key}-data"

    @property
    def figure_id(self) -> str:
        return f"chart-{self.key}"

    @property
    def axis_name(self) -> str:
        return self.axis or DEFAULT_AXIS.get(self.kind, "Period")

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def label(self) -> str:
        """The canvas's accessible name: what it is, and where its numbers are."""
        names = ", ".join(s.name for s in self.series)
        return f"{self.kind_name}: {self.title} ({names}). The numbers are in the table below."

    def text(self, value: Value) -> str:
        return format_value(value, self.unit, self.currency)

    # --- for Chart.js -----------------------------------------------------------------

    def data(self) -> dict[str, Any]:
        """JSON-safe: what ``static/js/charts.js`` draws. Values are numbers
        for drawing only; ``texts`` are the exact values as the table shows
        them (the tooltips use these)."""
        return {
            "key": self.key,
            "title": self.title,
            "kind": self.kind,
            "unit": str(self.unit),
            "currency": self.currency,
            "labels": [str(label) for label in self.labels],
            "series": [
                {
                    "name": s.name,
                    "values": [_drawn(v) for v in s.values],
                    "texts": [self.text(v) for v in s.values],
                    "urls": list(s.urls) if s.urls is not None else None,
                }
                for s in self.series
            ],
            "shares": self._shares_texts() if self.kind == "funnel" else None,
        }

    # --- for the table ----------------------------------------------------------------

    def table(self) -> Table:
        """The header and one row per label: each series' value (a link to
        its drill URL where there is one), then a stacked bar's total or a
        funnel stage's share of the first stage."""
        return self._table

    @cached_property
    def _table(self) -> Table:  # the template asks for it more than once
        header = [self.axis_name, *(s.name for s in self.series)]
        extra = self._extra_column()
        if extra is not None:
            header.append(extra[0])
        rows = []
        for i, label in enumerate(self.labels):
            cells = [
                Cell(s.values[i], self.text(s.values[i]), s.name, s.url(i)) for s in self.series
            ]
            if extra is not None:
                cells.append(extra[1][i])
            rows.append(Row(str(label), cells))
        return Table(header, rows)

    def _extra_column(self) -> tuple[str, list[Cell]] | None:
        if self.kind == "stacked-bar" and len(self.series) > 1:
            totals = [self._total(i) for i in range(len(self.labels))]
            return "Total", [Cell(t, self.text(t), "Total") for t in totals]
        if self.kind == "funnel" and self.series and self.labels:
            heading = f"Share of {self.labels[0]}"
            shares = self._shares()
            return heading, [Cell(s, fmt.percent(s), heading) for s in shares]
        return None

    def _total(self, index: int) -> Value:
        values = [Decimal(v) for s in self.series if (v := s.values[index]) is not None]
        return sum(values, Decimal(0)) if values else None

    def _shares(self) -> list[Decimal | None]:
        """A funnel's stages as a percentage of its first stage."""
        values = self.series[0].values
        first = values[0] if values else None
        if not first:
            return [None] * len(values)
        return [
            None
            if v is None
            else (Decimal(v) * 100 / Decimal(first)).quantize(
                Decimal("0.1"), rounding=ROUND_HALF_UP
            )
            for v in values
        ]

    def _shares_texts(self) -> list[str] | None:
        if not self.series:
            return None
        return [fmt.percent(s) for s in self._shares()]
