"""The decision SLA and the protection period, kept by Celery beat.

Decision SLA. A submitted registration must be decided within the tenant's
SLA in business time (``DealRegSettings.calendar()``). The approver is
reminded when a configured share of it has passed (a reminder at p% fires
when the business time left falls to (100 - p)% of the SLA); when it passes,
the ops admins are told and, if the tenant's policy says so, a registration
without conflicts is approved automatically. The clock stops while the
partner is asked for more information (``services.request_info``).

Every timed action is recorded once per SLA cycle in ``SlaMark`` (a unique
constraint), so a sweep run twice at the same moment acts once.

``DealRegistration.sla_next_check_at`` is the next moment the sweep has work
for a registration (``next_check_at``); the services set it on every
transition, and the sweep reads only the rows where it has come, through a
partial index: the cost of a sweep follows the work due, not the number of
open registrations. A stale value is harmless: a row whose check comes early
is just rescheduled (e.g. after a closure day was added), so configuration
changes need no mass update; one that comes late acts late.

Protection. An approved registration is protected until ``protected_until``
(a date in the tenant's time zone, inclusive). The partner is warned
``expiry_warning_days`` before (once per end date, so an extension re-arms
the warning), and the registration expires the day after.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import CharField, Exists, Func, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from prm import format as fmt
from prm.tenancy.businesstime import BusinessCalendar
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import (
    finish_tasks,
    staff_with_role,
)

from . import decisions, events
from .conflicts import find_conflicts
from .models import (
    Conflict,
    DealRegistration,
    DealRegSettings,
    ExtensionRequest,
    RegistrationEvent,
    SlaMark,
)
from .sla_writes import Writes
from .workflow import (
    DECIDE,
    DECIDE_EXTENSION,
    DealRegError,
    admin_change_url,
    detail_url,
    serialize_decisions,
)

logger = logging.getLogger(__name__)

Status = DealRegistration.Status
Kind = RegistrationEvent.Kind

BATCH_SIZE = 500
Batch = list[DealRegistration]
BREACH = "breach"
# A registration whose check failed unexpectedly is tried again this much
# later, so one bad row cannot stall (or spin) a tenant's sweep.
RETRY_DELAY = timedelta(minutes=15)
AUTO_APPROVAL_REASON = "Approved automatically: no decision within the SLA and no conflicts."


def reminder_kind(percent: int) -> str:
    return f"reminder:{percent}"


def expiry_warning_kind(until: date) -> str:
    return f"expiry_warning:{until.isoformat()}"


def marks_sent(registration: DealRegistration) -> set[str]:
    """The timed actions already taken in the registration's current SLA cycle."""
    return set(
        SlaMark.objects.filter(
            registration_id=registration.pk, cycle=registration.sla_cycle
        ).values_list("kind", flat=True)
    )


def _reminder_threshold(settings_row: DealRegSettings, percent: int) -> timedelta:
    """Business time left when the reminder at ``percent`` is due."""
    return timedelta(hours=settings_row.sla_business_hours) * (100 - percent) / 100


def next_check_at(
    registration: DealRegistration,
    settings_row: DealRegSettings,
    now: datetime,
    *,
    calendar: BusinessCalendar | None = None,
    sent: set[str] | None = None,
) -> datetime | None:
    """When the SLA sweep next has work for ``registration``: the next
    reminder not yet sent in this cycle (``now`` if it is already due), else
    the due time (breach handling), else None. None while the clock is paused
    (more information requested) and once no decision is pending."""
    if registration.status != Status.SUBMITTED or registration.sla_due_at is None:
        return None
    if sent is None:
        sent = marks_sent(registration)
    due = registration.sla_due_at
    if now < due:
        left = None
        for percent in sorted(set(settings_row.reminder_percents)):
            if reminder_kind(percent) in sent:
                continue
            calendar = calendar or settings_row.calendar()
            if left is None:
                left = calendar.between(now, due)
            threshold = _reminder_threshold(settings_row, percent)
            return now if left <= threshold else calendar.add(now, left - threshold)
    return None if BREACH in sent else due


def _partner_people(batch: Batch) -> Callable[[DealRegistration], list[User]]:
    """services.partner_people for a batch, in one query."""
    admins: dict = defaultdict(list)
    for membership in Membership.objects.filter(
        partner_id__in={r.partner_id for r in batch}, role=Role.PARTNER_ADMIN, is_active=True
    ).select_related("user"):
        admins[membership.partner_id].append(membership.user)
    return lambda registration: [registration.submitted_by, *admins[registration.partner_id]]


# --- The SLA sweep ----------------------------------------------------------------------


@dataclass
class SweepResult:
    checked: int = 0
    reminders: int = 0
    escalations: int = 0
    auto_approved: int = 0
    failed: int = 0


@dataclass
class _Context:
    tenant: Tenant
    settings: DealRegSettings
    calendar: BusinessCalendar
    now: datetime
    _ops: list[User] | None = None

    @property
    def ops(self) -> list[User]:
        if self._ops is None:
            self._ops = staff_with_role(Role.OPS_ADMIN)
        return self._ops

    def local(self, moment: datetime) -> str:
        return fmt.moment(moment, self.tenant.tzinfo)


def sweep(
    tenant: Tenant, now: datetime | None = None, *, batch_size: int = BATCH_SIZE
) -> "SweepResult":
    """Send the reminders and handle the breaches that are due at ``now`` in
    ``tenant`` (whose scope must be active). Reads only registrations whose
    ``sla_next_check_at`` has come, a batch at a time, each batch locked
    (rows another sweep or a decision holds are skipped, not waited for) and
    committed on its own."""

    now = now or timezone.now()
    settings_row = DealRegSettings.for_tenant(tenant)
    settings_row.tenant = tenant
    context = _Context(tenant, settings_row, settings_row.calendar(), now)
    result = SweepResult()
    while True:
        with transaction.atomic():
            if settings_row.auto_approve_on_breach:
                # approve() takes the tenant's decision lock before it locks
                # the registration; so must a batch that may approve, or it
                # could deadlock with a person approving one of its rows.
                serialize_decisions(tenant)
            batch = list(
                DealRegistration.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("partner", "approver")
                .filter(sla_next_check_at__lte=now)
                .order_by("sla_next_check_at")[:batch_size]
            )
            if batch:
                _sweep_batch(batch, context, result)
        if len(batch) < batch_size:
            return result


def _sweep_batch(batch: list[DealRegistration], context: _Context, result: SweepResult) -> None:
    sent: dict = defaultdict(set)
    for registration_id, kind, cycle in SlaMark.objects.filter(
        registration_id__in=[r.pk for r in batch]
    ).values_list("registration_id", "kind", "cycle"):
        sent[registration_id, cycle].add(kind)
    writes = Writes()
    rescheduled = []
    for registration in batch:
        registration.tenant = context.tenant
        result.checked += 1
        try:
            # Writes nothing but an automatic approval, which has its own savepoint.
            approved, plan = _check(
                registration, sent[registration.pk, registration.sla_cycle], context, result
            )
        except Exception:
            logger.exception("SLA check of registration %s failed", registration.pk)
            result.failed += 1
            registration.sla_next_check_at = context.now + RETRY_DELAY
            rescheduled.append(registration)
            continue
        writes.extend(plan)
        if not approved:  # an approval has cleared the next check already
            rescheduled.append(registration)
    writes.save(context.tenant)
    _set_next_checks(context.tenant, rescheduled)


def _set_next_checks(tenant: Tenant, registrations: list[DealRegistration]) -> None:
    """Store each registration's own ``sla_next_check_at`` in one statement
    (``bulk_update`` builds a CASE with a branch per row, slow for batches)."""
    if not registrations:
        return
    table = DealRegistration._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS r SET sla_next_check_at = v.at
            FROM unnest(%s::uuid[], %s::timestamptz[]) AS v(id, at)
            WHERE r.id = v.id AND r.tenant_id = %s
            """,  # noqa: S608 (the table name is the model's, not input)
            [
                [r.pk for r in registrations],
                [r.sla_next_check_at for r in registrations],
                tenant.pk,
            ],
        )


def _check(
    registration: DealRegistration, sent: set[str], context: _Context, result: SweepResult
) -> tuple[bool, Writes]:
    """One registration's due actions: whether it was approved automatically,
    and what to write. Sets its new ``sla_next_check_at``."""
    plan = Writes()
    now, settings_row = context.now, context.settings
    if registration.status != Status.SUBMITTED or registration.sla_due_at is None:
        registration.sla_next_check_at = None  # not running: nothing to check
        return False, plan
    if now >= registration.sla_due_at:
        if BREACH not in sent:
            plan.mark(registration, BREACH, now)
            if _on_breach(registration, context, plan, result):
                return True, plan
    else:
        left = context.calendar.between(now, registration.sla_due_at)
        due = [
            percent
            for percent in sorted(set(settings_row.reminder_percents))
            if reminder_kind(percent) not in sent
            and left <= _reminder_threshold(settings_row, percent)
        ]
        if due:
            # After a pause or an outage several may be due: one message (the
            # latest), every one marked as done.
            for percent in due:
                plan.mark(registration, reminder_kind(percent), now)
            _remind(registration, due[-1], left, context, plan)
            result.reminders += 1
    done = sent | {m.kind for m in plan.marks}
    upcoming = next_check_at(registration, settings_row, now, calendar=context.calendar, sent=done)
    if upcoming is not None and upcoming <= now:  # cannot happen; never spin on a row
        upcoming = now + RETRY_DELAY
    registration.sla_next_check_at = upcoming
    return False, plan


def _remind(
    registration: DealRegistration, percent: int, left: timedelta, context: _Context, plan: Writes
) -> None:

    assert registration.sla_due_at is not None  # pending: the clock runs
    hours = left.total_seconds() / 3600
    recipients = [registration.approver] if registration.approver else context.ops
    plan.notify(
        recipients,
        kind="dealreg.reminder",
        title=f"Reminder: decide {registration.code} by {context.local(registration.sla_due_at)}",
        body=(
            f"{percent}% of the decision time for {registration.partner.name}'s registration "
            f"of {registration.customer_name} has passed; {hours:.1f} business hours are left."
        ),
        url=admin_change_url(registration),
        about=registration,
        task=DECIDE,
    )
    plan.event(
        registration,
        Kind.REMINDER,
        context.now,
        visible=False,
        data={"percent": percent, "to": [u.email for u in recipients]},
    )


def _on_breach(
    registration: DealRegistration, context: _Context, plan: Writes, result: SweepResult
) -> bool:
    """The SLA has passed: approve automatically if the policy allows it,
    else escalate. True if the registration was approved."""

    why_not = None
    if context.settings.auto_approve_on_breach:
        why_not = _auto_approve(registration, context)
        if why_not is None:
            result.auto_approved += 1
            plan.notify(
                [registration.approver],
                kind="dealreg.auto_approved",
                title=f"{registration.code} was approved automatically (SLA passed)",
                body=AUTO_APPROVAL_REASON,
                url=admin_change_url(registration),
            )
            return True
    if not context.settings.escalate_on_breach:
        return False
    result.escalations += 1
    assert registration.sla_due_at is not None  # pending: the clock runs
    approver = registration.approver
    body = (
        f"The decision on {registration.partner.name}'s registration of "
        f"{registration.customer_name} was due {context.local(registration.sla_due_at)}. "
        f"Approver: {approver or 'nobody'}."
    )
    if why_not:
        body += f" Not approved automatically: {why_not}"
    data = {
        "due": registration.sla_due_at.isoformat(),
        "approver": approver.email if approver else None,
        "auto_approval_refused": why_not,
    }
    plan.notify(
        [*context.ops, approver],
        kind="dealreg.escalated",
        title=f"Overdue: {registration.code} has not been decided in time",
        body=body,
        url=admin_change_url(registration),
        about=registration,
        task=DECIDE,
    )
    plan.event(registration, Kind.ESCALATED, context.now, message=body, visible=False, data=data)
    plan.audit(registration, "dealreg.sla_breached", context.now, data)
    return False


def _auto_approve(registration: DealRegistration, context: _Context) -> str | None:
    """Approve through the workflow, as nobody; the reason it did not, or None."""

    try:
        with transaction.atomic():
            find_conflicts(registration, now=context.now)
            if has_open_conflicts(registration):
                return "possible conflicts need a person's decision."
            decisions.approve(
                registration,
                by=None,
                automatic=True,
                reason=AUTO_APPROVAL_REASON,
                now=context.now,
            )
    except DealRegError as exc:
        return str(exc)
    return None


def has_open_conflicts(registration: DealRegistration) -> bool:
    """Whether any stored conflict of the registration, on either side, is
    with a direct opportunity or a registration still holding the customer."""
    active = DealRegistration.ACTIVE
    own = Conflict.objects.filter(registration=registration).filter(
        Q(direct_opportunity__isnull=False) | Q(other_registration__status__in=active)
    )
    theirs = Conflict.objects.filter(
        other_registration=registration, registration__status__in=active
    )
    return own.exists() or theirs.exists()


# --- Protection ----------------------------------------------------------------------------


@dataclass
class ProtectionResult:
    warned: int = 0
    expired: int = 0


def sweep_protection(
    tenant: Tenant, now: datetime | None = None, *, batch_size: int = BATCH_SIZE
) -> "ProtectionResult":
    """Warn partners whose protection ends soon and expire the registrations
    whose protection has ended, by the tenant's local date. Set-based: each
    batch is one indexed select (``status``, ``protected_until``), one
    update and one insert per table."""
    now = now or timezone.now()
    today = tenant.local_today(now)
    result = ProtectionResult()
    approved = DealRegistration.objects.filter(status=Status.APPROVED)
    ended = approved.filter(protected_until__lt=today)
    while _in_batches(ended, batch_size, lambda batch: _expire(batch, tenant, now, result)):
        pass
    warning_days = DealRegSettings.for_tenant(tenant).expiry_warning_days
    if warning_days:
        warned = SlaMark.objects.filter(
            registration=OuterRef("pk"),
            kind=Concat(
                Value("expiry_warning:"),
                Func(
                    OuterRef("protected_until"),
                    Value("YYYY-MM-DD"),
                    function="to_char",
                    output_field=CharField(),
                ),
                output_field=CharField(),
            ),
        )
        ending = approved.filter(
            protected_until__gte=today, protected_until__lte=today + timedelta(days=warning_days)
        ).filter(~Exists(warned))
        while _in_batches(ending, batch_size, lambda batch: _warn(batch, tenant, now, result)):
            pass
    return result


def _in_batches(
    queryset: QuerySet[DealRegistration], batch_size: int, handle: Callable[[Batch], None]
) -> bool:
    """Lock and handle one batch; whether a full batch was handled (more may wait)."""
    with transaction.atomic():
        batch = list(
            queryset.select_for_update(skip_locked=True, of=("self",))
            .select_related("partner", "submitted_by")
            .order_by("protected_until", "pk")[:batch_size]
        )
        if batch:
            handle(batch)
    return len(batch) == batch_size


def _expire(batch: Batch, tenant: Tenant, now: datetime, result: ProtectionResult) -> None:

    ids = [r.pk for r in batch]
    DealRegistration.objects.filter(pk__in=ids).update(status=Status.EXPIRED, updated_at=now)
    # An extension nobody decided in time cannot be granted any more (and
    # nobody is asked to decide it).
    refused = ExtensionRequest.objects.filter(
        registration_id__in=ids, status=ExtensionRequest.Status.PENDING
    ).update(
        status=ExtensionRequest.Status.REJECTED,
        decided_at=now,
        decision_reason="Protection ended before the request was decided.",
    )
    if refused:
        finish_tasks(batch, DECIDE_EXTENSION, now=now)
    people = _partner_people(batch)
    writes = Writes()
    for registration in batch:
        data = {"protected_until": str(registration.protected_until)}
        writes.event(registration, Kind.EXPIRED, now, data=data)
        writes.audit(registration, "dealreg.expired", now, data)
        writes.notify(
            people(registration),
            kind="dealreg.expired",
            title=f"{registration.code}: protection has ended",
            body=(
                f"Your registration of {registration.customer_name} was protected until "
                f"{fmt.day(registration.protected_until)} and has now expired."
            ),
            url=detail_url(registration),
        )
    writes.save(tenant)
    events.registrations_changed(tenant, events.EXPIRED, batch, now=now)
    result.expired += len(batch)


def _warn(batch: Batch, tenant: Tenant, now: datetime, result: ProtectionResult) -> None:

    people = _partner_people(batch)
    writes = Writes()
    for registration in batch:
        until = registration.protected_until
        assert until is not None  # chosen for a protection that ends soon
        writes.mark(registration, expiry_warning_kind(until), now)
        writes.event(registration, Kind.EXPIRY_WARNING, now, data={"protected_until": str(until)})
        writes.notify(
            people(registration),
            kind="dealreg.expiry_warning",
            title=f"{registration.code}: protection ends on {fmt.day(until)}",
            body=(
                f"Your registration of {registration.customer_name} is protected until "
                f"{fmt.day(until)}. If the deal needs more time, request an extension."
            ),
            url=detail_url(registration),
        )
    writes.save(tenant)
    result.warned += len(batch)
