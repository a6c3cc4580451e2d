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

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from prm import format as fmt
from prm.tenancy.models import Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, notify, staff_with_role

from .models import Application, ApplicationEvent
from .vetting import DECIDE, admin_url, reviewers

logger = logging.getLogger(__name__)

Status = Application.Status
Kind = ApplicationEvent.Kind

BATCH_SIZE = 200
# A row whose check failed unexpectedly is tried again this much later, so
# one bad row cannot stall (or spin) a tenant's sweep.
RETRY_DELAY = timedelta(minutes=15)

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
    while True:
        with transaction.atomic():
            batch = list(
                Application.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("reviewer")
                .filter(next_check_at__lte=now)
                .order_by("next_check_at", "pk")[:batch_size]
            )
            for row in batch:
                row.tenant = tenant
                result.checked += 1
                try:
                    with transaction.atomic():
                        _check(row, tenant, now, ops, result)
                except Exception:
                    logger.exception("Application deadline check of %s failed", row.pk)
                    result.failed += 1
                    row.next_check_at = now + RETRY_DELAY
                Application.objects.filter(pk=row.pk).update(
                    next_check_at=row.next_check_at,
                    reminded_at=row.reminded_at,
                    escalated_at=row.escalated_at,
                )
        if len(batch) < batch_size:
            return


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
    while True:
        with transaction.atomic():
            batch = list(
                Application.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=Status.UNCONFIRMED, confirm_by__isnull=False, confirm_by__lte=now)
                .order_by("confirm_by", "pk")[:batch_size]
            )
            if batch:
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
                    audit(
                        tenant, by=None, action="onboarding.application_expired", obj=row, now=now
                    )
                result.expired += len(batch)
        if len(batch) < batch_size:
            return


__all__ = ["BEAT", "SweepResult", "sweep_applications"]
