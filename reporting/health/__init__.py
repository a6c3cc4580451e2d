"""Partner health: a transparent 0-100 score per partner from the weighted
components the apps declare (``PRMApp.health_components``), kept as one row
per partner and day, and at-risk episodes from the declared rules
(``PRMApp.at_risk_rules``), each told once to the partner's channel manager.

``compute_scores(tenant, day)`` does one day for every active partner and is
safe to run again; ``nightly(tenant)`` is what the beat runs (yesterday, and
any day missed in the week before); ``backfill_health(tenant, days)`` fills
the history of past days from the data as it stood on each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from prm.tenancy.declarations import HealthValue
from prm.tenancy.models import Tenant
from prm.tenancy.registry import health_components

from ..models import HealthScore, HealthSettings
from .episodes import AT_RISK_KIND, PRIMARY, evaluate_rules, notify_once, update_episodes
from .scoring import active_partners, combine, score_partners, store_scores

# The nightly run catches up this many missed days at most.
CATCH_UP_DAYS = 7


@dataclass(frozen=True)
class HealthRun:
    day: date
    scored: int
    at_risk: int
    opened: int
    closed: int
    notified: int


def compute_scores(
    tenant: Tenant,
    day: date,
    *,
    now: datetime | None = None,
    notify: bool = True,
    partner_ids: list[Any] | None = None,
    known: Mapping[str, Mapping[Any, HealthValue]] | None = None,
) -> HealthRun:
    """Score every partner active at the end of ``day`` from the data up to
    that day, store the day's rows (rewriting them when run again), then
    evaluate the at-risk rules and open, update or close episodes, telling
    channel managers of new ones (``notify=False``: nobody is told).
    Runs inside the tenant's scope. (``partner_ids``, the active partners,
    and ``known``, readings computed beforehand, come from a backfill.)"""
    now = now or timezone.now()
    settings = HealthSettings.for_tenant(tenant)
    if partner_ids is None:
        partner_ids = active_partners(tenant, day)
    scored = score_partners(tenant, day, partner_ids, settings.weight_table(), known)
    with transaction.atomic():
        written = store_scores(tenant, day, scored, now=now)
    flagged = evaluate_rules(tenant, day, partner_ids, settings.thresholds())
    changes = update_episodes(tenant, day, flagged, now=now, send=notify)
    return HealthRun(
        day=day,
        scored=written,
        at_risk=len(flagged),
        opened=changes.opened,
        closed=changes.closed,
        notified=changes.notified,
    )


def nightly(tenant: Tenant, *, now: datetime | None = None) -> list[HealthRun]:
    """Yesterday on the tenant's calendar (a whole day of data), after any
    day of the week before it that has no scores yet (the worker was down)."""
    now = now or timezone.now()
    yesterday = tenant.local_today(now) - timedelta(days=1)
    last = (
        HealthScore.objects.using(PRIMARY).filter(tenant=tenant).aggregate(last=Max("day"))["last"]
    )
    first = yesterday - timedelta(days=CATCH_UP_DAYS - 1)
    if last is not None and last >= first:
        first = min(last + timedelta(days=1), yesterday)
    runs = []
    day = first
    while day <= yesterday:
        runs.append(compute_scores(tenant, day, now=now, notify=day == yesterday))
        day += timedelta(days=1)
    return runs


def latest_day(tenant: Tenant) -> date | None:
    """The last day the tenant's partners were scored (what "the current
    score" means on the dashboards), or None before the first run."""
    last: date | None = HealthScore.objects.filter(tenant=tenant).aggregate(last=Max("day"))["last"]
    return last


def current_scores(tenant: Tenant) -> QuerySet[HealthScore]:
    """The scores of the last day scored (one per partner active then), for
    the dashboards: distribution, at-risk lists, a manager's partners."""
    day = latest_day(tenant)
    if day is None:
        return HealthScore.objects.none()
    return HealthScore.objects.filter(tenant=tenant, day=day)


def backfill_health(
    tenant: Tenant, days: int, *, every: int = 1, now: datetime | None = None
) -> list[HealthRun]:
    """Scores and episodes for the ``days`` days before today, oldest first,
    each from the data as it stood that day (for the demo and the bench);
    ``every`` 7 scores one day a week (and always yesterday), a history
    for trends at a seventh of the cost. Nobody is notified; the next
    nightly run tells the channel managers of episodes still open."""
    now = now or timezone.now()
    today = tenant.local_today(now)
    span = [today - timedelta(days=back) for back in range(days, 0, -every)]
    if span and span[-1] != today - timedelta(days=1):
        span.append(today - timedelta(days=1))
    if not span:
        return []
    active = {day: active_partners(tenant, day) for day in span}
    everyone = sorted(set().union(*active.values()))
    # Components that can, compute the whole span at once.
    batches = {
        component.key: component.compute_days(tenant, span, everyone)
        for component in health_components().values()
        if component.compute_days is not None and everyone
    }
    return [
        compute_scores(
            tenant,
            day,
            now=now,
            notify=False,
            partner_ids=active[day],
            known={key: batch.get(day, {}) for key, batch in batches.items()},
        )
        for day in span
    ]


__all__ = [
    "AT_RISK_KIND",
    "HealthRun",
    "active_partners",
    "backfill_health",
    "combine",
    "compute_scores",
    "current_scores",
    "evaluate_rules",
    "latest_day",
    "nightly",
    "notify_once",
    "score_partners",
]
