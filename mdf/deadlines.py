"""MDF deadlines, kept by Celery beat.

Decisions. A submitted fund request must be decided by its ``due_at`` (the
tenant's business days, ``workflow.due_at``), a submitted claim by its own.
The services set ``next_check_at`` on every transition: first the reminder
moment (``workflow.reminder_at``), None once nothing is pending (decided,
sent back for information, withdrawn). ``sweep_decisions`` reads only the
rows whose check has come, through the partial ``next_check_at`` indexes: a
reminder to the decider before the deadline (once: ``reminded_at``), then at
the deadline an escalation to ops (and finance, for claims) and the decider
(once: ``escalated_at``). Each batch is locked (rows a decision holds are
skipped, not waited for) and committed on its own, so a sweep run twice, or
two sweeps at once, send each message once.

Dates, by the tenant's local day (``sweep_dates``, hourly): the partner is
warned 7 days and 1 day before an approved activity's claim window closes
(once per threshold and claim deadline, recorded on the timeline, so an
extension re-arms the warnings); partner admins are warned 30 and 7 days
before unused funds expire (``Allocation.warned_days`` holds the lowest
threshold sent, set by a conditional UPDATE, so concurrent sweeps send
once); then unclaimed reservations are released and unused funds expire.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from django.db import connection, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from prm import format as fmt
from prm.tenancy.batches import check_deadlines
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import notify

from . import funds, requests
from .models import ActivityEvent, Allocation, Budget, Claim, FundRequest
from .workflow import (
    CLAIM,
    DECIDE,
    REVIEW,
    SECOND,
    Kind,
    admin_claim_url,
    admin_request_url,
    portal_url,
    record_event,
    staff,
)

BATCH_SIZE = 200
# Days before a claim window closes when the partner is warned.
WINDOW_WARNINGS = (7, 1)
# Days before an allocation's period ends when unused funds are announced to expire.
EXPIRY_WARNINGS = (30, 7)

# Beat entry for the lead to merge into ``mdf.declare.APP.beat``: decision
# reminders and escalations every minute (only tenants with something due
# get a sweep; ``tasks.dispatch_decision_sweeps``).
BEAT = {
    "mdf-decisions": {"task": "mdf.tasks.dispatch_decision_sweeps", "schedule": 60.0},
}


# --- Decisions ------------------------------------------------------------------------


@dataclass
class DecisionResult:
    checked: int = 0
    reminders: int = 0
    escalations: int = 0
    failed: int = 0


class _People:
    """Ops and finance of the tenant, read once per sweep."""

    def __init__(self) -> None:
        self._by_role: dict[str, list[User]] = {}

    def __call__(self, *roles: str) -> list[User]:
        found: list[User] = []
        for role in roles:
            if role not in self._by_role:
                self._by_role[role] = staff(role)
            found.extend(self._by_role[role])
        return found


def _request_deciders(request: FundRequest, people: _People) -> tuple[list[User | None], str]:
    """Who decides a pending request now, and the task they are asked to do:
    the approver (ops when the partner has no channel manager here), or ops
    and finance once a large request awaits its second approval."""
    if request.first_approved_by_id is not None:
        return list(people(Role.OPS_ADMIN, Role.FINANCE)), SECOND
    if request.approver is not None:
        return [request.approver], DECIDE
    return list(people(Role.OPS_ADMIN)), DECIDE


def _claim_deciders(people: _People) -> list[User | None]:
    return list(people(Role.FINANCE) or people(Role.OPS_ADMIN))


def sweep_decisions(
    tenant: Tenant, now: datetime | None = None, *, batch_size: int = BATCH_SIZE
) -> DecisionResult:
    """Send the reminders and escalations of fund requests and claims due at
    ``now`` in ``tenant`` (whose scope must be active)."""
    now = now or timezone.now()
    result = DecisionResult()
    people = _People()
    _sweep(FundRequest, tenant, now, people, result, batch_size)
    _sweep(Claim, tenant, now, people, result, batch_size)
    return result


_Due = TypeVar("_Due", FundRequest, Claim)


def _sweep(
    model: type[_Due],
    tenant: Tenant,
    now: datetime,
    people: _People,
    result: DecisionResult,
    batch_size: int,
) -> None:
    """Check ``model``'s rows due at ``now``, a batch at a time (each batch
    in its own transaction, rows locked and skipped by a parallel sweep)."""
    related = ("partner", "approver") if model is FundRequest else ("partner", "request__approver")
    due = (
        model.objects.select_related(*related)
        .filter(next_check_at__lte=now)
        .order_by("next_check_at", "pk")
    )
    checked, failed = check_deadlines(
        due,
        lambda row: _check(row, tenant, now, people, result),
        tenant=tenant,
        now=now,
        size=batch_size,
        what="MDF",
    )
    result.checked += checked
    result.failed += failed


def _check(
    row: FundRequest | Claim,
    tenant: Tenant,
    now: datetime,
    people: _People,
    result: DecisionResult,
) -> None:
    """One row's due action; sets its new ``next_check_at`` (saved by the caller)."""
    if row.status != "submitted" or row.due_at is None:
        row.next_check_at = None  # nothing pending: nothing to check
        return
    if now < row.due_at:
        if row.reminded_at is None:
            _remind(row, tenant, now, people)
            row.reminded_at = now
            result.reminders += 1
        row.next_check_at = row.due_at
        return
    if row.escalated_at is None:
        _escalate(row, tenant, now, people)
        row.escalated_at = now
        result.escalations += 1
    row.next_check_at = None


def _describe(row: FundRequest | Claim, tenant: Tenant) -> tuple[FundRequest, str, str, str]:
    """(the request, what it is, its amount, its admin URL)."""
    if isinstance(row, Claim):
        return (
            row.request,
            f"claim {row.code} of {row.partner.name}",
            funds.money(row.claimed_amount, tenant),
            admin_claim_url(row),
        )
    return (
        row,
        f"fund request {row.code} of {row.partner.name}",
        funds.money(row.requested_amount, tenant),
        admin_request_url(row),
    )


def _remind(row: FundRequest | Claim, tenant: Tenant, now: datetime, people: _People) -> None:
    assert row.due_at is not None
    request, what, amount, url = _describe(row, tenant)
    if isinstance(row, Claim):
        recipients, task = _claim_deciders(people), REVIEW
    else:
        recipients, task = _request_deciders(row, people)
    due = fmt.moment(row.due_at, tenant.tzinfo)
    notify(
        tenant,
        recipients,
        kind="mdf.reminder",
        title=f"Reminder: decide {row.code} by {due}",
        body=f"The {what} ({amount}) is waiting for a decision, due {due}.",
        url=url,
        about=row,
        task=task,
    )
    record_event(
        request,
        Kind.REMINDER,
        claim=row if isinstance(row, Claim) else None,
        visible=False,
        now=now,
        data={"due": row.due_at.isoformat(), "to": [u.email for u in recipients if u]},
    )


def _escalate(row: FundRequest | Claim, tenant: Tenant, now: datetime, people: _People) -> None:
    assert row.due_at is not None
    request, what, amount, url = _describe(row, tenant)
    if isinstance(row, Claim):
        deciders, task = _claim_deciders(people), REVIEW
        told = [*people(Role.OPS_ADMIN), *people(Role.FINANCE), *deciders]
    else:
        deciders, task = _request_deciders(row, people)
        told = [*people(Role.OPS_ADMIN), *deciders]
    due = fmt.moment(row.due_at, tenant.tzinfo)
    names = ", ".join(sorted({str(u) for u in deciders if u})) or "nobody"
    body = f"The decision on the {what} ({amount}) was due {due}. Decider: {names}."
    notify(
        tenant,
        told,
        kind="mdf.escalated",
        title=f"Overdue: {row.code} has not been decided in time",
        body=body,
        url=url,
        about=row,
        task=task,
    )
    record_event(
        request,
        Kind.ESCALATED,
        claim=row if isinstance(row, Claim) else None,
        message=body,
        visible=False,
        now=now,
        data={"due": row.due_at.isoformat(), "to": sorted({u.email for u in told if u})},
    )


# --- Dates: claim windows, expiry -----------------------------------------------------


@dataclass
class DatesResult:
    window_warnings: int = 0
    expiry_warnings: int = 0
    released: int = 0
    expired: int = 0


def _threshold(days_left: int, thresholds: tuple[int, ...]) -> int | None:
    """The lowest threshold ``days_left`` is within (None if none is)."""
    within = [t for t in thresholds if days_left <= t]
    return min(within) if within and days_left >= 0 else None


def sweep_dates(tenant: Tenant, now: datetime | None = None) -> DatesResult:
    """By the tenant's local date: claim window and expiry warnings, then
    unclaimed reservations released and unused funds expired."""
    now = now or timezone.now()
    today = tenant.local_today(now)
    result = DatesResult()
    result.window_warnings = _warn_windows(tenant, today, now)
    result.expiry_warnings = _warn_expiry(tenant, today, now)
    result.released = len(requests.release_unclaimed(tenant, now=now))
    result.expired = len(funds.expire(tenant, now=now))
    return result


def _warn_windows(tenant: Tenant, today: date, now: datetime) -> int:
    """Warn the partner of approved activities that can be claimed (they
    have ended) and whose claim window closes within a threshold not yet
    warned of for that deadline."""
    horizon = today + timedelta(days=max(WINDOW_WARNINGS))
    sent = 0
    last_pk: Any = None
    while True:
        with transaction.atomic():
            rows = FundRequest.objects.select_for_update(skip_locked=True, of=("self",)).filter(
                status=FundRequest.Status.APPROVED,
                claim_deadline__gte=today,
                claim_deadline__lte=horizon,
                ends_on__lte=today,
            )
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(rows.select_related("partner", "submitted_by").order_by("pk")[:BATCH_SIZE])
            if not batch:
                return sent
            last_pk = batch[-1].pk
            done: dict[Any, set[tuple[Any, Any]]] = defaultdict(set)
            for request_id, data in ActivityEvent.objects.filter(
                request_id__in=[r.pk for r in batch], kind=Kind.WINDOW_CLOSING
            ).values_list("request_id", "data"):
                done[request_id].add((data.get("days"), data.get("claim_deadline")))
            admins = _partner_admins({r.partner_id for r in batch})
            for request in batch:
                assert request.claim_deadline is not None
                days_left = (request.claim_deadline - today).days
                threshold = _threshold(days_left, WINDOW_WARNINGS)
                deadline = str(request.claim_deadline)
                if threshold is None or (threshold, deadline) in done[request.pk]:
                    continue
                request.tenant = tenant
                record_event(
                    request,
                    Kind.WINDOW_CLOSING,
                    now=now,
                    data={"days": threshold, "claim_deadline": deadline},
                )
                when = (
                    "tomorrow"
                    if days_left == 1
                    else ("today" if days_left == 0 else f"in {fmt.plural(days_left, 'day')}")
                )
                notify(
                    tenant,
                    [request.submitted_by, *admins[request.partner_id]],
                    kind="mdf.window_closing",
                    title=f"{request.code}: claim by {fmt.day(request.claim_deadline)} ({when})",
                    body=(
                        f"The claim window of {request.title} closes on "
                        f"{fmt.day(request.claim_deadline)}. Claim the "
                        f"{funds.money(request.reserved, tenant)} approved before then, or ask "
                        "for an extension; afterwards the funds are released."
                    ),
                    url=portal_url(request),
                    about=request,
                    task=CLAIM,
                )
                sent += 1
        if len(batch) < BATCH_SIZE:
            return sent


def _partner_admins(partner_ids: set[Any]) -> dict[Any, list[User]]:
    """partner_people for many partners, in one query."""
    admins: dict[Any, list[User]] = defaultdict(list)
    for membership in Membership.objects.filter(
        partner_id__in=partner_ids, role=Role.PARTNER_ADMIN, is_active=True
    ).select_related("user"):
        admins[membership.partner_id].append(membership.user)
    return admins


def _claim_expiry_warning(tenant: Tenant, threshold: int, low: date, high: date) -> list[Any]:
    """Mark the allocations with money available whose period ends between
    ``low`` and ``high`` and that were not yet warned at ``threshold`` (or
    lower): one conditional UPDATE, so of two concurrent sweeps only one
    marks (and then warns of) a given allocation. Returns their ids."""
    allocation, budget = Allocation._meta.db_table, Budget._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {allocation} AS a SET warned_days = %s
            FROM {budget} AS b
            WHERE b.id = a.budget_id AND b.tenant_id = a.tenant_id AND a.tenant_id = %s
              AND b.ends_on BETWEEN %s AND %s
              AND a.amount > a.reserved + a.claimed + a.expired
              AND (a.warned_days IS NULL OR a.warned_days > %s)
            RETURNING a.id
            """,  # noqa: S608 (table names are the models', not input)
            [threshold, tenant.pk, low, high, threshold],
        )
        return [row[0] for row in cursor.fetchall()]


def _warn_expiry(tenant: Tenant, today: date, now: datetime) -> int:
    sent = 0
    low = today
    for threshold in sorted(EXPIRY_WARNINGS):
        high = today + timedelta(days=threshold)
        with transaction.atomic():
            ids = _claim_expiry_warning(tenant, threshold, low, high)
            allocations = list(
                Allocation.objects.filter(pk__in=ids)
                .select_related("budget__fund_type", "partner")
                .order_by("budget__ends_on", "pk")
            )
            admins = _partner_admins({a.partner_id for a in allocations})
            for allocation in allocations:
                ends = allocation.budget.ends_on
                days_left = (ends - today).days
                left = funds.money(allocation.available, tenant)
                notify(
                    tenant,
                    admins[allocation.partner_id],
                    kind="mdf.expiry_warning",
                    title=(
                        f"{left} of {allocation.budget} expires on {fmt.day(ends)} "
                        f"(in {fmt.plural(days_left, 'day')})"
                    ),
                    body=(
                        f"Use it or lose it: {left} of your {allocation.budget} funds is not yet "
                        f"requested. Request an activity before {fmt.day(ends)}; what is unused "
                        "then expires."
                    ),
                    url=_funds_url(),
                )
                sent += 1
        low = high + timedelta(days=1)
    return sent


def _funds_url() -> str:
    """The portal's Funds page (the portal's name for it; none yet: no link)."""
    for name in ("mdf:home", "mdf:allocations", "mdf:index"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return ""


__all__ = ["BEAT", "DatesResult", "DecisionResult", "sweep_dates", "sweep_decisions"]
