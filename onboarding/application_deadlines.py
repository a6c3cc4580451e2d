"""Application deadlines, kept by Celery beat (every minute).

Decisions. A queued application must be decided by its ``due_at`` (the
tenant's ``decision_business_days`` on the vendor's business calendar,
``vetting.queue``). ``next_check_at`` holds its next check: first the
reminder moment (``reminder_business_days`` before the deadline), then the
deadline; None while nothing is due (a question to the applicant pauses
the clock; a decision ends it). ``sweep_applications`` reads only the rows
whose check has come, through the partial ``next_check_at`` index: the
reviewer (ops when there is none) is reminded once (``reminded_at``), then
at the deadline ops and the reviewer are told it is overdue, once
(``escalated_at``). Each batch is locked (rows a reviewer holds are skipped,
not waited for) and committed on its own, so a sweep run twice, or two at
once, send each message once.

Expiry. An application whose email was not confirmed by its ``confirm_by``
expires: it leaves the rate limits and the duplicate checks (which count
live applications only) and its confirmation link answers no more.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from prm import format as fmt
from prm.tenancy.batches import check_deadlines, in_locked_batches
from prm.tenancy.models import Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, notify, staff_with_role

from .models import Application, ApplicationEvent
from .vetting import DECIDE, admin_url, reviewers

Status = Application.Status
Kind = ApplicationEvent.Kind

BATCH_SIZE = 200

# Beat entry, merged into ``onboarding.declare.APP.beat``: reminders,
# escalations and expiry every minute (only tenants with something due get
# a sweep; ``tasks.dispatch_application_sweeps``).
BEAT = {
    "onboarding-applications": {
        "task": "onboarding.tasks.dispatch_application_sweeps",
        "schedule": 60.0,
    },
}


@dataclass
class SweepResult:
    checked: int = 0
    reminders: int = 0
    escalations: int = 0
    expired: int = 0
    failed: int = 0


def sweep_applications(
    tenant: Tenant, now: datetime | None = None, *, batch_size: int = BATCH_SIZE
) -> SweepResult:
    """Reminders, escalations and expiry due at ``now`` in ``tenant`` (whose
    scope must be active)."""
    now = now or timezone.now()
    result = SweepResult()
    _sweep_decisions(tenant, now, result, batch_size)
    _expire_unconfirmed(tenant, now, result, batch_size)
    return result


def _sweep_decisions(tenant: Tenant, now: datetime, result: SweepResult, batch_size: int) -> None:
    ops: list[User] = staff_with_role(Role.OPS_ADMIN)

    due = (
        Application.objects.select_related("reviewer")
        .filter(next_check_at__lte=now)
        .order_by("next_check_at", "pk")
    )
    checked, failed = check_deadlines(
        due,
        lambda row: _check(row, tenant, now, ops, result),
        tenant=tenant,
        now=now,
        size=batch_size,
        what="Application",
    )
    result.checked += checked
    result.failed += failed


def _check(
    row: Application, tenant: Tenant, now: datetime, ops: list[User], result: SweepResult
) -> None:
    """One row's due action; sets its new ``next_check_at`` (saved by the caller)."""
    if row.status != Status.SUBMITTED or row.due_at is None:
        row.next_check_at = None  # nothing pending: nothing to check
        return
    if now < row.due_at:
        if row.reminded_at is None:
            _remind(row, tenant, now, ops)
            row.reminded_at = now
            result.reminders += 1
        row.next_check_at = row.due_at
        return
    if row.escalated_at is None:
        _escalate(row, tenant, now, ops)
        row.escalated_at = now
        result.escalations += 1
    row.next_check_at = None


def _told(row: Application, ops: list[User]) -> list[User]:
    return [row.reviewer] if row.reviewer is not None else list(ops)


def _remind(row: Application, tenant: Tenant, now: datetime, ops: list[User]) -> None:
    assert row.due_at is not None
    due = fmt.moment(row.due_at, tenant.tzinfo)
    told = _told(row, ops)
    notify(
        tenant,
        told,
        kind="onboarding.application_reminder",
        title=f"Reminder: decide application {row.code} ({row.company_name}) by {due}",
        body=f"{row.company_name}'s application to join the program waits for a decision, "
        f"due {due}.",
        url=admin_url(row),
        about=row,
        task=DECIDE,
    )
    names = ", ".join(sorted(str(u) for u in told)) or "nobody"
    _event(row, Kind.REMINDED, now, f"Reminded {names}: decision due {due}.")


def _escalate(row: Application, tenant: Tenant, now: datetime, ops: list[User]) -> None:
    assert row.due_at is not None
    due = fmt.moment(row.due_at, tenant.tzinfo)
    reviewer = str(row.reviewer) if row.reviewer is not None else "ops"
    body = (
        f"The decision on {row.company_name}'s application ({row.code}) was due {due}. "
        f"Reviewer: {reviewer}."
    )
    notify(
        tenant,
        [*ops, *reviewers(row)],
        kind="onboarding.application_escalated",
        title=f"Overdue: application {row.code} has not been decided in time",
        body=body,
        url=admin_url(row),
        about=row,
        task=DECIDE,
    )
    _event(row, Kind.ESCALATED, now, body)


def _event(row: Application, kind: str, now: datetime, message: str) -> None:
    ApplicationEvent.objects.create(
        tenant_id=row.tenant_id, application=row, kind=kind, message=message, at=now
    )


def _expire_unconfirmed(
    tenant: Tenant, now: datetime, result: SweepResult, batch_size: int
) -> None:
    def handle(batch: list[Application]) -> None:
        Application.objects.filter(pk__in=[a.pk for a in batch]).update(
            status=Status.EXPIRED, next_check_at=None
        )
        ApplicationEvent.objects.bulk_create(
            ApplicationEvent(
                tenant_id=tenant.pk,
                application=row,
                kind=Kind.EXPIRED,
                message="The applicant did not confirm their email in time.",
                at=now,
            )
            for row in batch
        )
        for row in batch:
            row.tenant = tenant
            audit(tenant, by=None, action="onboarding.application_expired", obj=row, now=now)
        result.expired += len(batch)

    unconfirmed = Application.objects.filter(
        status=Status.UNCONFIRMED, confirm_by__isnull=False, confirm_by__lte=now
    ).order_by("confirm_by", "pk")
    in_locked_batches(unconfirmed, handle, size=batch_size)


__all__ = ["BEAT", "SweepResult", "sweep_applications"]
