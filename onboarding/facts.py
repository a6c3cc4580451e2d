"""Onboarding's daily figures in reporting's rollups (``FactSource``): per
partner and calendar day in the tenant's time zone, each on the day its
metric (``onboarding.metrics``) places it:

- ``onboarding_enrolled`` and ``onboarding_activated`` (activated within 90
  days, as it stands now) on the partner's enrollment day;
- ``onboarding_started`` and ``onboarding_on_target`` (completed on or
  before its target date) on the day the plan started;
- ``onboarding_steps_due`` and ``onboarding_steps_on_time`` on the day the
  required steps were due;
- ``onboarding_stalled_delta``: +1 on the day a plan in progress became
  stalled, -1 on the day it stopped (a step done, completed): summed up to
  a day, the plans stalled that day (a day may lie ahead: the plan will be
  stalled then unless something is done);
- the series (days) ``onboarding_first_registration`` on the day of the
  partner's first registration, ``onboarding_first_won`` on its first won
  deal's close date, ``onboarding_time_to_onboard`` on the day its plan
  completed.

Registrations (a first one, a win) and partners are watched by deal
registration's and the directory's sources: a partner they mark stale is
recomputed whole, onboarding's facts included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from django.db.models import Count

from prm.tenancy.declarations import FactRow, FactSource, Measurement
from prm.tenancy.models import Tenant

from .metrics import (
    ON_TARGET,
    ON_TIME,
    activated,
    activation_mode,
    first_instant,
    local_day,
    plan_days,
    stall_changes,
    stalled_after,
    timelines,
    zone,
)
from .models import Plan, PlanStep

FACTS = (
    "onboarding_enrolled",
    "onboarding_activated",
    "onboarding_started",
    "onboarding_on_target",
    "onboarding_steps_due",
    "onboarding_steps_on_time",
    "onboarding_stalled_delta",
)
SERIES = (
    "onboarding_first_registration",
    "onboarding_first_won",
    "onboarding_time_to_onboard",
)


def _of(rows: Any, partner_ids: Sequence[Any] | None, field: str) -> Any:
    if partner_ids is None:
        return rows
    return rows.filter(**{f"{field}__in": [p for p in partner_ids if p]})


def compute(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> Iterator[FactRow]:
    """Three queries: the partners' timelines, their plans by start day,
    their required steps by due day."""
    values: dict[tuple[Any, date], dict[str, int]] = defaultdict(dict)

    def add(partner: Any, day: date, name: str, value: int) -> None:
        if value and (since is None or day >= since):
            found = values[(partner, day)]
            found[name] = found.get(name, 0) + value

    mode = activation_mode(tenant)
    for partner, enrolled, first_won, first_approved in timelines(
        tenant, partner_ids=partner_ids
    ).values_list("pk", "enrolled_day", "first_won", "first_approved_day"):
        add(partner, enrolled, "onboarding_enrolled", 1)
        add(
            partner,
            enrolled,
            "onboarding_activated",
            int(activated(mode, enrolled, first_won, first_approved)),
        )

    plans = _of(Plan.objects.filter(tenant_id=tenant.pk), partner_ids, "partner_id")
    if since is not None:
        plans = plans.filter(started_at__gte=first_instant(tenant, since))
    for row in (
        plans.annotate(
            started_day=local_day("started_at", tenant),
            completed_day=local_day("completed_at", tenant),
        )
        .values("partner_id", "started_day")
        .annotate(started=Count("pk"), on_target=Count("pk", filter=ON_TARGET))
        .order_by()
    ):
        add(row["partner_id"], row["started_day"], "onboarding_started", row["started"])
        add(row["partner_id"], row["started_day"], "onboarding_on_target", row["on_target"])

    steps = _of(
        PlanStep.objects.filter(tenant_id=tenant.pk, required=True).exclude(
            plan__status=Plan.Status.CANCELLED
        ),
        partner_ids,
        "plan__partner_id",
    )
    if since is not None:
        steps = steps.filter(due_on__gte=since)
    for row in (
        steps.annotate(completed_day=local_day("completed_at", tenant))
        .values("plan__partner_id", "due_on")
        .annotate(due=Count("pk"), on_time=Count("pk", filter=ON_TIME))
        .order_by()
    ):
        add(row["plan__partner_id"], row["due_on"], "onboarding_steps_due", row["due"])
        add(row["plan__partner_id"], row["due_on"], "onboarding_steps_on_time", row["on_time"])

    _stalled(tenant, partner_ids, add)

    for (partner, day), found in values.items():
        yield FactRow(partner, day, found)


def _stalled(tenant: Tenant, partner_ids: Sequence[Any] | None, add: Any) -> None:
    """Each plan's stall changes (``metrics.stall_changes``): three queries."""
    where = zone(tenant)
    after_days = stalled_after(tenant)
    plans = list(
        _of(
            Plan.objects.filter(tenant_id=tenant.pk).exclude(status=Plan.Status.CANCELLED),
            partner_ids,
            "partner_id",
        ).values_list("pk", "partner_id", "started_at", "completed_at")
    )
    progress: dict[Any, list[date]] = defaultdict(list)
    for plan_id, completed_at in PlanStep.objects.filter(
        plan_id__in=[row[0] for row in plans], completed_at__isnull=False
    ).values_list("plan_id", "completed_at"):
        assert completed_at is not None  # filtered above
        progress[plan_id].append(completed_at.astimezone(where).date())
    for plan_id, partner, started_at, completed_at in plans:
        ended = completed_at.astimezone(where).date() if completed_at else None
        for day, change in stall_changes(
            started_at.astimezone(where).date(), progress[plan_id], ended, after_days
        ):
            add(partner, day, "onboarding_stalled_delta", change)


def measure(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None
) -> Iterator[tuple[str, Measurement]]:
    """Days to the first registration and the first won deal (from the
    partner's timeline), and from each plan's start to its completion."""
    for partner, first_day, start_day, first_won, enrolled_day in timelines(
        tenant, partner_ids=partner_ids
    ).values_list("pk", "first_submitted_day", "start_day", "first_won", "enrolled_day"):
        if (
            first_day is not None
            and first_day >= start_day
            and (since is None or first_day >= since)
        ):
            yield (
                "onboarding_first_registration",
                Measurement(partner, first_day, (first_day - start_day).days),
            )
        if (
            first_won is not None
            and first_won >= enrolled_day
            and (since is None or first_won >= since)
        ):
            yield (
                "onboarding_first_won",
                Measurement(partner, first_won, (first_won - enrolled_day).days),
            )
    completed = _of(
        Plan.objects.filter(tenant_id=tenant.pk, status=Plan.Status.COMPLETED),
        partner_ids,
        "partner_id",
    )
    if since is not None:
        completed = completed.filter(completed_at__gte=first_instant(tenant, since))
    for partner, day, days in plan_days(tenant, completed):
        yield "onboarding_time_to_onboard", Measurement(partner, day, days)


def _step_partner(step: Any) -> list[Any]:
    return list(Plan._base_manager.filter(pk=step.plan_id).values_list("partner_id", flat=True))


SOURCE = FactSource(
    key="onboarding",
    facts=FACTS,
    compute=compute,
    series=SERIES,
    measure=measure,
    watch={
        "onboarding.Plan": lambda plan: [plan.partner_id],
        "onboarding.PlanStep": _step_partner,
        # The approved application dates a partner's start.
        "onboarding.Application": lambda application: (
            [application.partner_id] if application.partner_id else []
        ),
        # What activates a partner (a won deal or an approval), and when a
        # plan is stalled, are settings.
        "onboarding.OnboardingSettings": lambda settings_row: ["*"],
    },
)
