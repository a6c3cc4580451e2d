"""Reporting's own at-risk rule (declared in ``reporting.declare``): the
health score fell. The other rules come with the apps that own their data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Max

from prm import format as fmt
from prm.tenancy.declarations import AtRiskRule
from prm.tenancy.models import Tenant

from ..models import HealthScore


def score_drop(
    tenant: Tenant, day: date, partner_ids: Any, thresholds: Mapping[str, int]
) -> dict[Any, str]:
    """Flags a partner whose score on ``day`` is ``score_drop_points`` or
    more below its best score of the ``score_drop_days`` days before. Reads
    the stored history, so it runs after the day's scores are stored. Three
    queries, whatever the history's length: each partner's best in the
    window, the day's scores, and the day of the best of those flagged."""
    points = Decimal(thresholds["score_drop_points"])
    days = thresholds["score_drop_days"]
    # The primary: the day's scores were written a moment ago.
    scores = HealthScore.objects.using(DEFAULT_DB_ALIAS).filter(
        tenant_id=tenant.pk, partner_id__in=partner_ids
    )
    window = scores.filter(day__gte=day - timedelta(days=days), day__lt=day)
    best = dict(
        window.values("partner_id").annotate(top=Max("score")).values_list("partner_id", "top")
    )
    today = dict(scores.filter(day=day).values_list("partner_id", "score"))
    fell = {
        partner_id: score
        for partner_id, score in today.items()
        if partner_id in best and best[partner_id] - score >= points
    }
    if not fell:
        return {}
    # The latest day each flagged partner had its best score.
    best_days = (
        window.filter(partner_id__in=list(fell))
        .order_by("partner_id", "-score", "-day")
        .distinct("partner_id")
        .values_list("partner_id", "score", "day")
    )
    return {
        partner_id: (
            f"Health score fell {fmt.number(top - fell[partner_id], 1)} points in {days} days "
            f"(from {fmt.number(top, 1)} on {fmt.day(on)} to {fmt.number(fell[partner_id], 1)})"
        )
        for partner_id, top, on in best_days
    }


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
