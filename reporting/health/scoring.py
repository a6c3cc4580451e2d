"""The health score: each declared component's reading per partner,
combined with the tenant's weights into a 0-100 score and stored as the
day's row of the partner's history.

A component with no data for a partner (``None``) is left out of that
partner's score and the weights of the others are rescaled: with weights
25/15/20 and the third missing, the first two count 25/40 and 15/40.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from partners.metrics import active_partner_ids
from prm.tenancy.declarations import NO_FILTERS, HealthComponent, HealthValue, Period, Reading
from prm.tenancy.models import Tenant
from prm.tenancy.registry import health_components

from ..models import HealthScore

HUNDRED = Decimal(100)
TENTH = Decimal("0.1")
NO_DATA = "No data"


def active_partners(tenant: Tenant, day: date) -> list[Any]:
    """The ids of the partners that were active at the end of ``day`` (as
    the directory's history records them)."""
    rows = active_partner_ids(tenant, Period(day, day), NO_FILTERS)
    return sorted(row["id"] for row in rows)


def as_reading(component: HealthComponent, value: HealthValue) -> Reading:
    reading = value if isinstance(value, Reading) else Reading(value)
    if reading.value is None:
        return Reading(None, reading.why or NO_DATA)
    number = Decimal(reading.value)
    if not 0 <= number <= 1:
        raise ValueError(f"Health component {component.key} gave {number}: values are 0 to 1.")
    return Reading(number, reading.why)


def combine(
    readings: Iterable[tuple[HealthComponent, int, Reading]],
) -> tuple[Decimal | None, list[dict[str, Any]]]:
    """(score 0-100 with one decimal, or None when no weighted component has
    data; the components as stored: key, name, value, weight, contribution
    in points, why). Contributions are shown rounded to a tenth; the score
    is their exact sum, rounded once."""
    readings = list(readings)
    counted = sum(weight for _, weight, r in readings if r.value is not None and weight > 0)
    total = Decimal(0)
    items = []
    for component, weight, reading in readings:
        contribution = Decimal(0)
        if counted and reading.value is not None and weight > 0:
            contribution = HUNDRED * weight * reading.value / counted
        total += contribution
        items.append(
            {
                "key": component.key,
                "name": component.name,
                "value": None if reading.value is None else str(reading.value),
                "weight": weight,
                "contribution": str(contribution.quantize(TENTH, rounding=ROUND_HALF_UP)),
                "why": reading.why,
            }
        )
    if not counted:
        return None, items
    return total.quantize(TENTH, rounding=ROUND_HALF_UP), items


def score_partners(
    tenant: Tenant,
    day: date,
    partner_ids: list[Any],
    weights: Mapping[str, int],
    known: Mapping[str, Mapping[Any, HealthValue]] | None = None,
) -> dict[Any, tuple[Decimal | None, list[dict[str, Any]]]]:
    """partner id -> (score, components) for ``day``: every declared
    component computed once for all the partners (or taken from ``known``,
    component key -> readings of the day, computed beforehand for many
    days at once)."""
    components = list(health_components().values())
    known = known or {}
    computed = {
        c.key: known[c.key] if c.key in known else c.compute(tenant, day, partner_ids)
        for c in components
    }
    return {
        partner_id: combine(
            (
                c,
                weights.get(c.key, c.default_weight),
                as_reading(c, computed[c.key].get(partner_id)),
            )
            for c in components
        )
        for partner_id in partner_ids
    }


def store_scores(
    tenant: Tenant,
    day: date,
    scored: Mapping[Any, tuple[Decimal | None, list[dict[str, Any]]]],
    *,
    now: datetime | None = None,
) -> int:
    """Write the day's rows (insert or update per partner and day, so a
    second run rewrites the same rows); a partner that has no score now
    loses a row stored earlier for the day. Returns rows written."""
    now = now or timezone.now()
    rows = [
        HealthScore(
            tenant=tenant,
            partner_id=partner_id,
            day=day,
            score=score,
            components=items,
            computed_at=now,
        )
        for partner_id, (score, items) in scored.items()
        if score is not None
    ]
    # On the primary by name: Django checks bulk_create's conflict options on
    # the database a *read* would use, which a replica router may send away.
    HealthScore.objects.using(DEFAULT_DB_ALIAS).bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["partner", "day"],
        update_fields=["score", "components", "computed_at"],
    )
    unscored = [partner_id for partner_id, (score, _) in scored.items() if score is None]
    if unscored:
        HealthScore.objects.filter(tenant=tenant, day=day, partner_id__in=unscored).delete()
    return len(rows)
