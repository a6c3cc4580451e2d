"""Sparklines: a trend drawn as a small inline SVG, no JavaScript.

``{{ values|sparkline:"Pipeline" }}`` (``{% load prm %}``) gives
``<svg class="sparkline" role="img" aria-label="Pipeline: 120 → 150" ...>``.
The values are numbers or ``None`` (no data for that bucket: the line
breaks there), or ``(period, value)`` pairs as ``reporting.figures.Figure``
keeps its series. The last value is marked with a dot. Colours come from
CSS classes (``.sparkline-line``, ``.sparkline-dot``, ``.sparkline-base`` in
static/css/prm.css): the SVG carries presentation attributes only, never a
``style`` attribute.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from prm import format as fmt

WIDTH = 100
HEIGHT = 24
PAD = 3  # room for the last point's dot (radius 2) inside the box
DOT_RADIUS = 2


def _number(item: object) -> Decimal | None:
    if isinstance(item, tuple | list) and len(item) == 2:
        item = item[1]
    return fmt._decimal(item)


def _coordinate(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _spoken(value: Decimal) -> str:
    """A value in the accessible name: whole numbers as they are, others to
    one decimal (``12,345``, ``87.5``)."""
    if value != value.to_integral_value():
        value = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return fmt.number(value)


def points(values: list[Decimal | None]) -> list[list[tuple[float, float]]]:
    """The runs of consecutive values as (x, y) in the SVG's box: x spread
    over the width, y scaled between the lowest and highest value (a flat
    series sits in the middle). ``None`` ends a run."""
    known = [v for v in values if v is not None]
    if not known:
        return []
    low, high = min(known), max(known)
    span = high - low
    step = (WIDTH - 2 * PAD) / (len(values) - 1) if len(values) > 1 else 0
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for i, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
            continue
        x = PAD + i * step if len(values) > 1 else WIDTH / 2
        share = float((value - low) / span) if span else 0.5  # flat: the middle
        y = HEIGHT - PAD - share * (HEIGHT - 2 * PAD)
        current.append((x, y))
    if current:
        runs.append(current)
    return runs


def sparkline(values: Iterable[object] | None, label: str = "Trend") -> SafeString:
    """The inline SVG of a trend; its accessible name is ``label: first →
    last`` (``label: no data`` when there is none)."""
    numbers = [_number(item) for item in (values or [])]
    known = [v for v in numbers if v is not None]
    label = label or "Trend"
    name = f"{label}: no data"
    if known:
        name = f"{label}: {_spoken(known[0])} \N{RIGHTWARDS ARROW} {_spoken(known[-1])}"
    parts = [
        f'<svg class="sparkline" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(name)}" focusable="false">'
    ]
    runs = points(numbers)
    if not runs:
        middle = _coordinate(HEIGHT / 2)
        parts.append(
            f'<line class="sparkline-base" x1="{PAD}" y1="{middle}" '
            f'x2="{WIDTH - PAD}" y2="{middle}" />'
        )
    for index, run in enumerate(runs):
        if len(run) == 1:
            if index == len(runs) - 1:
                continue  # the last value's dot marks it
            # a lone value between gaps: a dot, as there is no line to draw
            x, y = run[0]
            parts.append(
                f'<circle class="sparkline-point" cx="{_coordinate(x)}" '
                f'cy="{_coordinate(y)}" r="1.5" />'
            )
            continue
        coordinates = " ".join(f"{_coordinate(x)},{_coordinate(y)}" for x, y in run)
        parts.append(f'<polyline class="sparkline-line" points="{coordinates}" fill="none" />')
    if runs:
        x, y = runs[-1][-1]
        parts.append(
            f'<circle class="sparkline-dot" cx="{_coordinate(x)}" cy="{_coordinate(y)}" '
            f'r="{DOT_RADIUS}" />'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  # built from numbers and an escaped label
