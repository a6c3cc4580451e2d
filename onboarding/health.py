"""Onboarding's part of the partner health score (declared in
``onboarding.declare``): how well the partner keeps to its onboarding plan,
and the at-risk rule "onboarding stalled".

As of a day: only what had happened by the end of that day in the tenant's
time zone counts (plans started by then, steps completed by then, due
dates passed by then), so the nightly score, a recomputation and a backfill
agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from prm import format as fmt
from prm.tenancy.declarations import AtRiskRule, HealthComponent, HealthValue, Reading
from prm.tenancy.models import Tenant

from .metrics import active_plans, first_instant, stalled_after, zone
from .models import Plan, PlanStep

# A completed plan still speaks for the partner this many days after it completed.
RECENT_DAYS = 180
# A required step done after its due date counts this much of one done on time.
LATE_CREDIT = Decimal("0.5")
THOUSANDTH = Decimal("0.001")


class _Step(NamedTuple):
    title: str
    due_on: date
    completed_at: datetime | None


class _Plan(NamedTuple):
    partner_id: Any
    started_at: datetime
    completed_at: datetime | None
    target_on: date
    steps: list[_Step]


def _plans(tenant: Tenant, partner_ids: Any) -> list[_Plan]:
    """The partners' plans (not cancelled) with their required steps: two queries."""
    rows = list(
        Plan.objects.filter(tenant_id=tenant.pk, partner_id__in=partner_ids)
        .exclude(status=Plan.Status.CANCELLED)
        .values_list("pk", "partner_id", "started_at", "completed_at", "target_on")
    )
    steps: dict[Any, list[_Step]] = defaultdict(list)
    for plan_id, title, due_on, completed_at in PlanStep.objects.filter(
        plan_id__in=[row[0] for row in rows], required=True
    ).values_list("plan_id", "title", "due_on", "completed_at"):
        steps[plan_id].append(_Step(title, due_on, completed_at))
    return [_Plan(*row[1:], steps=steps[row[0]]) for row in rows]


def _share(on_time: int, late: int, counted: int) -> Decimal:
    if not counted:
        return Decimal(1)
    value = (on_time + late * LATE_CREDIT) / counted
    return Decimal(value).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


def reading(tenant: Tenant, plan: _Plan, day: date) -> Reading | None:
    """The plan's reading at the end of ``day``, None when it says nothing
    then (not started, or completed long before)."""
    where = zone(tenant)
    after = first_instant(tenant, day + timedelta(days=1))
    if plan.started_at >= after:
        return None

    def done_on(step: _Step) -> date | None:
        if step.completed_at is None or step.completed_at >= after:
            return None
        return step.completed_at.astimezone(where).date()

    if plan.completed_at is not None and plan.completed_at < after:
        completed = plan.completed_at.astimezone(where).date()
        if (day - completed).days > RECENT_DAYS:
            return None
        took = fmt.plural((completed - plan.started_at.astimezone(where).date()).days, "day")
        if completed <= plan.target_on:
            return Reading(Decimal(1), f"Onboarded in {took}, within its target")
        in_time = sum(1 for s in plan.steps if (done_on(s) or date.max) <= s.due_on)
        value = _share(in_time, len(plan.steps) - in_time, len(plan.steps))
        behind = fmt.plural((completed - plan.target_on).days, "day")
        return Reading(value, f"Onboarded in {took}, {behind} past its target")

    due = [s for s in plan.steps if s.due_on < day]
    on_time = [s for s in due if (done_on(s) or date.max) <= s.due_on]
    overdue = [s for s in due if done_on(s) is None]
    late = len(due) - len(on_time) - len(overdue)
    value = _share(len(on_time), late, len(due))
    if not due:
        return Reading(value, "Onboarding on track: no step due yet")
    why = f"{len(on_time)} of {fmt.plural(due, 'step')} due done on time"
    if late:
        why += f", {late} late"
    if overdue:
        first = min(overdue, key=lambda s: s.due_on)
        why += f"; {len(overdue)} overdue: {first.title} (due {fmt.day(first.due_on)})"
    return Reading(value, why)


def progress_days(
    tenant: Tenant, days: Sequence[date], partner_ids: Any
) -> dict[date, dict[Any, HealthValue]]:
    """Each day's readings (two queries for all the days): a partner whose
    plan is in progress reads the share of its required steps due so far
    that were done by their due date (a late one counts half; an overdue one
    nothing), 1 while nothing is due; a plan completed within its target
    reads 1, a late one its on-time share, for 180 days after it completed.
    A partner without a plan (or with a cancelled one) has no data."""
    plans = _plans(tenant, partner_ids)
    found: dict[date, dict[Any, HealthValue]] = {}
    for day in days:
        readings: dict[Any, HealthValue] = {}
        for plan in plans:
            value = reading(tenant, plan, day)
            if value is not None:
                readings[plan.partner_id] = value
        found[day] = readings
    return found


def progress(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, HealthValue]:
    return progress_days(tenant, [day], partner_ids)[day]


def onboarding_stalled(
    tenant: Tenant, day: date, partner_ids: Any, thresholds: Mapping[str, int]
) -> dict[Any, str]:
    """Partners whose plan, in progress at the end of ``day``, had no step
    completed in the onboarding settings' stalled-after days, or is past its
    target date. Two queries."""
    where = zone(tenant)
    days = stalled_after(tenant)
    flagged: dict[Any, str] = {}
    for partner_id, last_progress, target_on in (
        active_plans(tenant, day)
        .filter(partner_id__in=partner_ids)
        .values_list("partner_id", "last_progress", "target_on")
    ):
        reasons = []
        quiet = (day - last_progress.astimezone(where).date()).days
        if quiet >= days:
            reasons.append(f"No onboarding step completed in {fmt.plural(quiet, 'day')}")
        if day > target_on:
            late = (day - target_on).days
            reasons.append(f"Onboarding {fmt.plural(late, 'day')} past its target")
        if reasons:
            flagged[partner_id] = "; ".join(reasons)
    return flagged


HEALTH_COMPONENTS = (
    HealthComponent(
        key="onboarding.progress",
        name="Onboarding progress",
        description=(
            "For a partner onboarding: the share of its plan's required steps due so far "
            "that were done by their due date (a step done late counts half, an overdue "
            "one nothing; 1 while nothing is due yet). A plan completed within its target "
            "counts 1, a late one its on-time share, for 180 days after it completed. No "
            "plan: no data."
        ),
        default_weight=10,
        compute=progress,
        compute_days=progress_days,
    ),
)

AT_RISK_RULES = (
    AtRiskRule(
        key="onboarding.stalled",
        name="Onboarding stalled",
        description=(
            "The partner's onboarding plan is in progress with no step completed in the "
            "onboarding settings' stalled-after days (21 by default), or it is past its "
            "target date."
        ),
        evaluate=onboarding_stalled,
    ),
)
