"""The daily round of compliance reviews in one tenant (Celery beat, hourly:
``compliance_tasks.dispatch_compliance_sweeps``; dates are the tenant's
own, so hourly catches every time zone's midnight):

- **open**: every active partner without an unfinished review gets one
  when it has none yet (the first round after ops switch reviews on) or
  its last one opened ``interval_months`` ago or more. The database allows
  one review per partner and period and one unfinished review per partner,
  so two rounds open it once.
- **remind**: the partner's admins, 14 and 3 days before the due date of
  a review waiting for them (open or returned); only the lowest step that
  applies on the day is sent, once per review and step (an audit entry
  with a once-key).
- **escalate**: a review unfinished past its due date is told to the
  partner's channel manager and to ops, once (``escalated_at``, set by a
  conditional update: a second round finds it set).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Exists, Max, OuterRef
from django.urls import reverse
from django.utils import timezone

from onboarding.agreement_sweeps import partner_admins
from partners.models import Partner
from prm import format as fmt
from prm.tenancy.declarations import NotificationKind
from prm.tenancy.models import Tenant
from prm.tenancy.roles import OPS, Role
from prm.tenancy.services import AlreadyDone, audit, notify, once, staff_with_role

from . import compliance
from .models import ComplianceReview, ComplianceSettings
from .models.compliance import REMINDER_DAYS

REMINDER = "program.compliance_reminder"
OVERDUE = "program.compliance_overdue"
REVIEWERS = frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER})

NOTIFICATION_KINDS = (
    NotificationKind(
        compliance.OPENED, "A compliance review of ours is open", {Role.PARTNER_ADMIN}
    ),
    NotificationKind(REMINDER, "Our compliance review is coming due", {Role.PARTNER_ADMIN}),
    NotificationKind(
        compliance.DECIDED,
        "Our compliance review was signed off or returned",
        {Role.PARTNER_ADMIN},
    ),
    NotificationKind(
        compliance.SUBMITTED, "A partner's compliance review waits for my sign-off", REVIEWERS
    ),
    NotificationKind(OVERDUE, "A partner's compliance review is overdue", REVIEWERS | OPS),
)


@dataclass
class SweepResult:
    opened: int = 0
    reminders: int = 0
    escalated: int = 0


def reminder_step(days_left: int) -> int | None:
    """The reminder step ``days_left`` days before the due date falls in."""
    if days_left < 0:
        return None
    within = [days for days in REMINDER_DAYS if days_left <= days]
    return min(within) if within else None


def to_open(today: date, policy: ComplianceSettings) -> list[Partner]:
    """Active partners whose next review is due to open on ``today``."""
    unfinished = ComplianceReview.objects.filter(
        partner_id=OuterRef("pk"), status__in=ComplianceReview.UNFINISHED
    )
    rows = (
        Partner.objects.filter(status=Partner.Status.ACTIVE)
        .filter(~Exists(unfinished))
        .annotate(last_opened=Max("compliance_reviews__opens_on"))
        .select_related("tenant")
        .order_by("name", "pk")
    )
    return [
        p
        for p in rows
        if p.last_opened is None
        or compliance.add_months(p.last_opened, policy.interval_months) <= today
    ]


def sweep(tenant: Tenant, *, now: datetime | None = None) -> SweepResult:
    """One tenant's round (its scope must be active)."""
    now = now or timezone.now()
    today = tenant.local_today(now)
    result = SweepResult()
    policy = ComplianceSettings.for_tenant(tenant)
    if not policy.enabled:
        return result
    for partner in to_open(today, policy):
        if compliance.open_review(partner, opens_on=today, policy=policy, now=now):
            result.opened += 1
    result.reminders = remind(tenant, today, now)
    result.escalated = escalate(tenant, today, now)
    return result


def remind(tenant: Tenant, today: date, now: datetime) -> int:
    waiting = list(
        ComplianceReview.objects.filter(
            status__in=ComplianceReview.EDITABLE,
            due_on__gte=today,
            due_on__lte=today + timedelta(days=max(REMINDER_DAYS)),
        ).select_related("partner")
    )
    admins = partner_admins({r.partner_id for r in waiting})
    sent = 0
    for review in waiting:
        step = reminder_step((review.due_on - today).days)
        if step is None:
            continue
        if _remind(tenant, review, step, admins.get(review.partner_id, []), today, now):
            sent += 1
    return sent


def _remind(
    tenant: Tenant,
    review: ComplianceReview,
    step: int,
    users: list[Any],
    today: date,
    now: datetime,
) -> bool:
    days_left = (review.due_on - today).days
    when = "today" if days_left == 0 else f"in {fmt.plural(days_left, 'day')}"
    try:
        with once(tenant, f"program.compliance_reminder:{review.pk.hex}:{step}") as key:
            audit(
                tenant,
                by=None,
                action="program.compliance_reminder",
                obj=review,
                data={"days": step, "due_on": str(review.due_on)},
                now=now,
                once_key=key,
            )
            notify(
                tenant,
                users,
                kind=REMINDER,
                title=f"Your compliance review is due {when} ({fmt.day(review.due_on)})",
                body="Complete the checklist and submit it: a review not signed off by then "
                "puts your organisation out of compliance.",
                url=compliance.portal_url(),
                about=review,
            )
    except AlreadyDone:
        return False
    return True


def escalate(tenant: Tenant, today: date, now: datetime) -> int:
    overdue = list(
        ComplianceReview.objects.filter(
            compliance.overdue_q(today), escalated_at__isnull=True
        ).select_related("partner__channel_manager")
    )
    ops = staff_with_role(Role.OPS_ADMIN) if overdue else []
    count = 0
    for review in overdue:
        # Once: only the round whose update finds it unset tells anyone.
        if not ComplianceReview.objects.filter(pk=review.pk, escalated_at__isnull=True).update(
            escalated_at=now
        ):
            continue
        partner = review.partner
        waiting = (
            "waits for your sign-off"
            if review.status == ComplianceReview.Status.SUBMITTED
            else f"is {review.get_status_display().lower()} at the partner"
        )
        notify(
            tenant,
            [partner.channel_manager, *ops],
            kind=OVERDUE,
            title=f"{partner.name}'s compliance review is overdue (due {fmt.day(review.due_on)})",
            body=f"The review {waiting}. Until it is signed off, {partner.name} is out of "
            "compliance.",
            url=reverse("tenant_admin:program_compliancereview_change", args=[review.pk]),
            about=review,
        )
        audit(tenant, by=None, action="program.compliance_escalated", obj=review, now=now)
        count += 1
    return count
