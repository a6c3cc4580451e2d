"""Onboarding plan deadlines, kept by Celery beat (hourly; dates are the
tenant's local ones, so an hourly sweep catches every time zone's midnight).

Each sweep of a tenant, in order:

1. Reconcile: ``plans.sync_partner`` for every active plan, so a step whose
   evidence came in without its signal (a profile edited in the admin, a
   lost kick) completes within the hour, and is not reminded.
2. Reminders: an open step due within ``step_reminder_days`` (the tenant's
   onboarding settings) is announced once (``reminded_at``) to its owner:
   the partner's admins for a partner's step, the channel manager (ops when
   the partner has none) for the channel manager's.
3. Escalations: a required step past its due date is reported once
   (``escalated_at``) to the channel manager and ops, one message per plan
   naming its overdue steps.
4. A plan past its target date and not complete is reported once
   (``overdue_escalated_at``) to the channel manager and ops.

Rows are locked as they are read (rows another sweep holds are skipped, not
waited for) and marked in the same transaction, so a sweep run twice, or two
at once, send each message once.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from partners.models import Partner
from prm import format as fmt
from prm.tenancy.batches import in_locked_batches
from prm.tenancy.declarations import NotificationKind
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import notify, staff_with_role

from . import plans
from .models import OnboardingSettings, Owner, Plan, PlanStep

logger = logging.getLogger(__name__)

BATCH_SIZE = 200

BEAT = {
    "onboarding-plans": {"task": "onboarding.tasks.dispatch_plan_sweeps", "schedule": 3600.0},
}

STEP_DUE = "onboarding.step_due"
STEP_OVERDUE = "onboarding.step_overdue"
PLAN_OVERDUE = "onboarding.plan_overdue"
_OWNERS = frozenset({Role.PARTNER_ADMIN, Role.CHANNEL_MANAGER, Role.OPS_ADMIN})
_REVIEWERS = frozenset({Role.CHANNEL_MANAGER, Role.OPS_ADMIN})
NOTIFICATION_KINDS = (
    NotificationKind(STEP_DUE, "An onboarding step of mine is coming due", _OWNERS),
    NotificationKind(STEP_OVERDUE, "A partner's onboarding step is overdue", _REVIEWERS),
    NotificationKind(PLAN_OVERDUE, "A partner's onboarding passed its target date", _REVIEWERS),
)


@dataclass
class SweepResult:
    synced: int = 0
    reminders: int = 0
    escalations: int = 0
    plans_overdue: int = 0
    failed: int = 0


class _Ops:
    """The tenant's ops admins, read once per sweep."""

    def __init__(self) -> None:
        self._people: list[User] | None = None

    def __call__(self) -> list[User]:
        if self._people is None:
            self._people = staff_with_role(Role.OPS_ADMIN)
        return self._people


def sweep(tenant: Tenant, now: datetime | None = None) -> SweepResult:
    """One tenant's sweep at ``now`` (inside its scope)."""
    now = now or timezone.now()
    today = tenant.local_today(now)
    settings_row = OnboardingSettings.for_tenant(tenant)
    ops = _Ops()
    result = SweepResult()
    reconcile(result, now)
    _remind(tenant, settings_row, today, now, ops, result)
    _escalate_steps(tenant, today, now, ops, result)
    _escalate_plans(tenant, today, now, ops, result)
    return result


def reconcile(result: SweepResult, now: datetime) -> None:
    """Sync every active plan (each in its own transaction; one that fails
    is logged and the others go on)."""
    partner_ids = list(
        Plan.objects.filter(status=Plan.Status.ACTIVE).values_list("partner_id", flat=True)
    )
    for partner_id in partner_ids:
        try:
            result.synced += len(plans.sync_partner(partner_id, now=now))
        except Exception:
            logger.exception("Onboarding sync of partner %s failed", partner_id)
            result.failed += 1


# --- Who is told -----------------------------------------------------------------------


def partner_admins(partner_ids: Iterable[Any]) -> dict[Any, list[User]]:
    """The active partner admins of each partner, in one query."""
    found: dict[Any, list[User]] = defaultdict(list)
    for membership in Membership.objects.filter(
        partner_id__in=list(partner_ids),
        role=Role.PARTNER_ADMIN,
        is_active=True,
        user__is_active=True,
    ).select_related("user"):
        found[membership.partner_id].append(membership.user)
    return found


def _manager(partner: Partner) -> User | None:
    manager = partner.channel_manager
    return manager if manager is not None and manager.is_active else None


def _plan_admin_url(plan_id: Any) -> str:
    return reverse("tenant_admin:onboarding_plan_change", args=[plan_id])


# --- Reminders -------------------------------------------------------------------------


def _remind(
    tenant: Tenant,
    settings_row: OnboardingSettings,
    today: date,
    now: datetime,
    ops: _Ops,
    result: SweepResult,
) -> None:
    horizon = today + timedelta(days=settings_row.step_reminder_days)

    def handle(batch: list[PlanStep]) -> None:
        admins = partner_admins({step.plan.partner_id for step in batch})
        for step in batch:
            _remind_one(tenant, step, today, admins, ops)
        PlanStep.objects.filter(pk__in=[step.pk for step in batch]).update(reminded_at=now)
        result.reminders += len(batch)

    due = (
        PlanStep.objects.select_related("plan__partner__channel_manager")
        .filter(
            plan__status=Plan.Status.ACTIVE,
            completed_at__isnull=True,
            reminded_at__isnull=True,
            due_on__gte=today,
            due_on__lte=horizon,
        )
        .order_by("due_on", "pk")
    )
    in_locked_batches(due, handle, size=BATCH_SIZE)


def _remind_one(
    tenant: Tenant, step: PlanStep, today: date, admins: dict[Any, list[User]], ops: _Ops
) -> None:
    partner = step.plan.partner
    days = (step.due_on - today).days
    when = "today" if days == 0 else ("tomorrow" if days == 1 else f"in {fmt.plural(days, 'day')}")
    due = fmt.day(step.due_on)
    if step.owner == Owner.PARTNER:
        notify(
            tenant,
            admins[partner.pk],
            kind=STEP_DUE,
            title=f"Onboarding: “{step.title}” is due {due} ({when})",
            body=f"“{step.title}” is a step of your onboarding plan, due {due}. "
            + (step.instructions or "The onboarding page says what to do."),
            url=reverse("onboarding:plan"),
        )
        return
    manager = _manager(partner)
    notify(
        tenant,
        [manager] if manager else ops(),
        kind=STEP_DUE,
        title=f"{partner.name}: “{step.title}” is due {due} ({when})",
        body=f"“{step.title}” is yours in the onboarding plan of {partner.name}, due {due}."
        + (" Nobody manages this partner, so ops are told." if manager is None else ""),
        url=_plan_admin_url(step.plan_id),
    )


# --- Escalations ---------------------------------------------------------------------


def _escalate_steps(
    tenant: Tenant, today: date, now: datetime, ops: _Ops, result: SweepResult
) -> None:
    def handle(batch: list[PlanStep]) -> None:
        by_plan: dict[Any, list[PlanStep]] = defaultdict(list)
        for step in batch:
            by_plan[step.plan_id].append(step)
        for steps in by_plan.values():
            _escalate_plan_steps(tenant, steps, ops)
        PlanStep.objects.filter(pk__in=[step.pk for step in batch]).update(escalated_at=now)
        result.escalations += len(batch)

    overdue = (
        PlanStep.objects.select_related("plan__partner__channel_manager")
        .filter(
            plan__status=Plan.Status.ACTIVE,
            required=True,
            completed_at__isnull=True,
            escalated_at__isnull=True,
            due_on__lt=today,
        )
        .order_by("plan_id", "due_on", "position")
    )
    in_locked_batches(overdue, handle, size=BATCH_SIZE)


def _owner_label(step: PlanStep, partner: Partner) -> str:
    return partner.name if step.owner == Owner.PARTNER else "the channel manager"


def _escalate_plan_steps(tenant: Tenant, steps: list[PlanStep], ops: _Ops) -> None:
    partner = steps[0].plan.partner
    manager = _manager(partner)
    lines = [
        f"- “{step.title}” was due {fmt.day(step.due_on)} ({_owner_label(step, partner)})"
        for step in steps
    ]
    title = (
        f"{partner.name}: onboarding step “{steps[0].title}” is overdue"
        if len(steps) == 1
        else f"{partner.name}: {len(steps)} onboarding steps are overdue"
    )
    notify(
        tenant,
        [manager, *ops()],
        kind=STEP_OVERDUE,
        title=title,
        body="\n".join(
            [
                f"The onboarding plan of {partner.name} has steps past their due date:",
                *lines,
                f"Channel manager: {manager or 'nobody'}.",
            ]
        ),
        url=_plan_admin_url(steps[0].plan_id),
    )


def _escalate_plans(
    tenant: Tenant, today: date, now: datetime, ops: _Ops, result: SweepResult
) -> None:
    def handle(batch: list[Plan]) -> None:
        for plan in batch:
            _escalate_plan(tenant, plan, today, ops)
        Plan.objects.filter(pk__in=[plan.pk for plan in batch]).update(overdue_escalated_at=now)
        result.plans_overdue += len(batch)

    late = (
        Plan.objects.select_related("partner__channel_manager", "tenant")
        .filter(status=Plan.Status.ACTIVE, target_on__lt=today, overdue_escalated_at__isnull=True)
        .order_by("target_on", "pk")
    )
    in_locked_batches(late, handle, size=BATCH_SIZE)


def _escalate_plan(tenant: Tenant, plan: Plan, today: date, ops: _Ops) -> None:
    partner = plan.partner
    manager = _manager(partner)
    progress = plans.progress(plan, today=today)
    open_required = [s.title for s in progress.steps if s.required and s.completed_at is None]
    notify(
        tenant,
        [manager, *ops()],
        kind=PLAN_OVERDUE,
        title=f"{partner.name} has not completed onboarding by its target "
        f"({fmt.day(plan.target_on)})",
        body=f"{progress.percent} % of the required steps of “{plan.name}” are done, "
        f"started {fmt.day(plan.started_at, tenant.tzinfo)}. Still open: "
        + (", ".join(f"“{title}”" for title in open_required) or "nothing required")
        + f". Channel manager: {manager or 'nobody'}.",
        url=_plan_admin_url(plan.pk),
    )


__all__ = ["BEAT", "NOTIFICATION_KINDS", "SweepResult", "partner_admins", "reconcile", "sweep"]
