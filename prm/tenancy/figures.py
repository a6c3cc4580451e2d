"""Helpers for computing the apps' metrics (``PRMApp.metrics``): how a rate,
a sum of money and a duration are rounded for display, PostgreSQL's
continuous percentile."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Aggregate, FloatField

CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def money(value: Decimal | int | str | None) -> Decimal:
    """A sum of money for display: two decimals, half away from zero
    (``incentives.money``'s rule); no rows is zero."""
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def percent(part: Decimal | int, whole: Decimal | int | None) -> Decimal | None:
    """``part`` ÷ ``whole`` as a percentage with one decimal; None when
    there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


def one_decimal(value: Decimal | float | int | None) -> Decimal | None:
    """A duration (hours, days) with one decimal; None stays None. Floats
    (``percentile_cont`` answers in double precision) go through their
    shortest text, so 2.5 stays 2.5."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(TENTH, rounding=ROUND_HALF_UP)


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY x)``:
    the continuous percentile (linear interpolation between the two nearest
    values), e.g. ``PercentileCont("days", fraction=0.5)`` is the median."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, *, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile is a fraction from 0 to 1.")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentile(values: Sequence[Decimal], fraction: float) -> Decimal | None:
    """``percentile_cont`` over values computed in Python (business hours,
    which only the tenant's calendar can measure); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = Decimal(str(fraction)) * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * weight
