"""Reporting's own at-risk rule (declared in ``reporting.declare``): the
health score fell. The other rules come with the apps that own their data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from prm import format as fmt
from prm.tenancy.declarations import AtRiskRule
from prm.tenancy.models import Tenant

from ..models import HealthScore


def score_drop(
    tenant: Tenant, day: date, partner_ids: Any, thresholds: Mapping[str, int]
) -> dict[Any, str]:
    """Flags a partner whose score on ``day`` is ``score_drop_points`` or
    more below its best score of the ``score_drop_days`` days before. Reads
    the stored history, so it runs after the day's scores are stored."""
    points = Decimal(thresholds["score_drop_points"])
    days = thresholds["score_drop_days"]
    rows = HealthScore.objects.filter(
        tenant_id=tenant.pk,
        partner_id__in=partner_ids,
        day__gte=day - timedelta(days=days),
        day__lte=day,
    ).values_list("partner_id", "day", "score")
    today: dict[Any, Decimal] = {}
    best: dict[Any, tuple[Decimal, date]] = {}
    for partner_id, on, score in rows:
        if on == day:
            today[partner_id] = score
        elif partner_id not in best or (score, on) > best[partner_id]:
            best[partner_id] = (score, on)
    found: dict[Any, str] = {}
    for partner_id, score in today.items():
        if partner_id not in best:
            continue
        top, on = best[partner_id]
        if top - score >= points:
            found[partner_id] = (
                f"Health score fell {fmt.number(top - score, 1)} points in {days} days "
                f"(from {fmt.number(top, 1)} on {fmt.day(on)} to {fmt.number(score, 1)})"
            )
    return found


AT_RISK_RULES = (
    AtRiskRule(
        key="reporting.score_drop",
        name="Score fell",
        description=(
            "The health score fell by the set number of points or more below its best score "
            "in the set number of days before."
        ),
        evaluate=score_drop,
    ),
)
