"""Payout runs: finance pays out what partners have earned, exactly once.

A run has a cutoff date. A partner's *payable* at the cutoff is the sum of
``amount_base`` of their **unsettled** ledger entries with ``available_on <=
cutoff``: accruals become available after the holding period, clawbacks and
negative adjustments at once (so they reduce what is paid). Each entry is
settled at most once (``Settlement.entry`` is one-to-one), by the payout entry
that paid it; the payout entry settles itself, so it never counts again.

The life of a run::

    start_run ──> COMPUTING ──(compute_run, a task)──> REVIEW
    REVIEW: set_hold / release per partner; cancel
    approve ──> APPROVING ──(write_payouts, a task)──> APPROVED
    mark_paid ──> PAID (payment reference; close-to-paid days recorded)

A line per partner with a non-zero payable: negative → ``NEGATIVE`` (nothing
paid, the entries carry forward against future earnings); below the run's
minimum → ``BELOW_MINIMUM`` (carries forward); else ``READY``.

Exactly once: ``write_payouts`` handles each ready partner in its own
transaction under the partner's ledger lock, re-reading what is payable (a
clawback may have arrived since review), and writes one payout entry with the
idempotency key ``payout:<run>:<partner>`` together with the settlements of
the entries it pays and the line's new state. A worker that dies mid-run
leaves every partner either fully written or untouched; running the task
again (a retry, ``resume_stalled_runs``, two workers at once) skips what is
done. Only one run per tenant may be open (computing, in review or writing)
at a time, so two runs never compete for the same entries.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Max, Sum
from django.urls import reverse
from django.utils import timezone

from prm.tenancy.locks import advisory_xact_lock
from prm.tenancy.models import Membership, Tenant, uuid7
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, notify

from . import ledger, periods
from .ledger import IncentiveError, NewEntry
from .models import IncentiveSettings, LedgerEntry, PayoutLine, PayoutRun, Settlement
from .money import ZERO, format_money, round_money

Status = PayoutRun.Status
LineStatus = PayoutLine.Status
OPEN = (Status.COMPUTING, Status.REVIEW, Status.APPROVING)
# Lines written per transaction while computing (the progress steps).
COMPUTE_CHUNK = 1000


class PayoutError(IncentiveError):
    """A refused payout-run operation; ``str(error)`` is the message."""


# --- Helpers ---------------------------------------------------------------------------


def _require(by: Membership, perm: str, message: str, tenant_id=None) -> None:
    if by is None or not by.has_perm(perm):
        raise PayoutError(message)
    if tenant_id is not None and by.tenant_id != tenant_id:
        raise PayoutError(message)


def _lock_run(run_id) -> PayoutRun:
    """The run, its row locked until the transaction ends (not its tenant's)."""
    return PayoutRun.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=run_id)


def _require_status(run: PayoutRun, allowed, doing: str) -> None:
    if run.status not in allowed:
        raise PayoutError(
            f"{run.reference} is {run.get_status_display().lower()}; it cannot {doing}."
        )


def _lock_tenant_runs(tenant: Tenant) -> None:
    """Serialize starting (and restarting) runs of one tenant, so two
    finance people pressing "start" at once cannot open two runs."""
    advisory_xact_lock(f"incentives:payoutruns:{tenant.pk}")


def open_run(exclude=None) -> PayoutRun | None:
    """The tenant's run that blocks starting another: one computing, in
    review or writing payouts, or one that failed while writing them."""
    runs = PayoutRun.objects.filter(status__in=OPEN)
    failed_mid_write = PayoutRun.objects.filter(status=Status.FAILED, approved_at__isnull=False)
    if exclude is not None:
        runs = runs.exclude(pk=exclude.pk)
        failed_mid_write = failed_mid_write.exclude(pk=exclude.pk)
    return runs.first() or failed_mid_write.first()


def _refuse_if_other_open(exclude=None) -> None:
    other = open_run(exclude)
    if other is None:
        return
    if other.status == Status.FAILED:
        raise PayoutError(
            f"{other.reference} failed while writing payouts; retry it before starting another run."
        )
    raise PayoutError(
        f"{other.reference} is still {other.get_status_display().lower()}; finish or cancel it "
        "before starting another run (two open runs could pay the same entries)."
    )


def line_status(payable: Decimal, minimum: Decimal) -> str:
    """What a (not held) line with ``payable`` is."""
    if payable < 0:
        return LineStatus.NEGATIVE
    if payable == 0 or payable < minimum:
        return LineStatus.BELOW_MINIMUM
    return LineStatus.READY


def unsettled_entries(cutoff: date):
    """Entries no payout has settled yet that are payable on ``cutoff``."""
    return LedgerEntry.objects.filter(available_on__lte=cutoff, settlement__isnull=True)


def _ready_total(run: PayoutRun) -> Decimal:
    total = PayoutLine.objects.filter(run=run, status=LineStatus.READY).aggregate(t=Sum("payable"))
    return total["t"] or ZERO


def _next_reference(tenant: Tenant, today: date) -> str:
    prefix = f"PR-{today.year}-"
    last = PayoutRun.objects.filter(reference__startswith=prefix).aggregate(m=Max("reference"))["m"]
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:04d}"


# Computing a run takes many transactions (one per chunk of lines), and
# only transaction-level locks are used (see prm.tenancy.locks: behind a
# pooler in transaction mode a session-level lock would stay on whichever
# server connection it was taken on). So the worker computing a run is
# known by a fencing token instead: the run's ``heartbeat_at``. Claiming the
# run (under its row lock) stamps a heartbeat later than any before it;
# each chunk commits only if, under the row lock again, the heartbeat is
# still the one this worker last wrote, and moves it on. A second worker
# (a retry, or ``resume_stalled_runs`` after a worker stopped beating)
# claims the run and starts the lines afresh; the first finds its stamp
# replaced at its next chunk and stops, its chunks before that deleted by
# the new claim. A worker that dies holds nothing: its transaction rolls
# back and the next claim takes over.


def _next_stamp(previous: datetime | None) -> datetime:
    """The current time, but always after ``previous`` (the token must change)."""
    stamp = timezone.now()
    if previous is not None and stamp <= previous:
        stamp = previous + timedelta(microseconds=1)
    return stamp


def _claim_computation(run_id) -> tuple[PayoutRun, datetime] | None:
    """Make this worker the one computing the run, its lines emptied; None
    unless the run is computing. In its own transaction."""
    with transaction.atomic():
        run = _lock_run(run_id)
        if run.status != Status.COMPUTING:
            return None
        PayoutLine.objects.filter(run=run).delete()
        run.partners_total = run.partners_done = 0
        run.total_payable = ZERO
        run.heartbeat_at = _next_stamp(run.heartbeat_at)
        run.save(update_fields=["partners_total", "partners_done", "total_payable", "heartbeat_at"])
    return run, run.heartbeat_at


def _still_computing(run_id, stamp: datetime) -> PayoutRun | None:
    """Inside a transaction: the run, row locked, if this worker (``stamp``)
    still computes it; None if it was cancelled or another worker claimed it."""
    run = _lock_run(run_id)
    if run.status != Status.COMPUTING or run.heartbeat_at != stamp:
        return None
    return run


def _beat_computation(run: PayoutRun, stamp: datetime, **fields) -> datetime:
    """Move this worker's heartbeat (its token) on, with ``fields``."""
    stamp = _next_stamp(stamp)
    PayoutRun.objects.filter(pk=run.pk).update(heartbeat_at=stamp, **fields)
    return stamp


def _enqueue(task_name: str, run: PayoutRun) -> None:
    from . import payout_tasks

    task = getattr(payout_tasks, task_name)
    tenant_id, run_id = str(run.tenant_id), str(run.pk)
    transaction.on_commit(lambda: task.delay(tenant_id=tenant_id, run_id=run_id))


# --- Starting and computing --------------------------------------------------------------


def start_run(
    tenant: Tenant, *, by: Membership, cutoff: date, now: datetime | None = None
) -> PayoutRun:
    """Open a payout run of entries payable on or before ``cutoff``; its
    lines are computed by a task once this commits."""
    _require(by, "incentives.add_payoutrun", "Only finance may start payout runs.", tenant.pk)
    now = now or timezone.now()
    if not isinstance(cutoff, date) or isinstance(cutoff, datetime):
        raise PayoutError("Enter the cutoff date.", "cutoff")
    today = tenant.local_today(now)
    if cutoff > today:
        raise PayoutError(
            f"The cutoff cannot be in the future (today is {today:%Y-%m-%d} in "
            f"{tenant.name}'s time zone).",
            "cutoff",
        )
    with transaction.atomic():
        _lock_tenant_runs(tenant)
        _refuse_if_other_open()
        settings = IncentiveSettings.for_tenant(tenant)
        run = PayoutRun.objects.create(
            tenant=tenant,
            reference=_next_reference(tenant, today),
            cutoff=cutoff,
            status=Status.COMPUTING,
            currency=tenant.base_currency,
            minimum_payout=settings.minimum_payout,
            created_by=by.user,
            created_at=now,
            heartbeat_at=timezone.now(),
        )
        audit(
            tenant,
            by=by.user,
            action="incentives.payout_run_started",
            obj=run,
            data={"cutoff": str(cutoff), "minimum_payout": str(run.minimum_payout)},
            now=now,
        )
        _enqueue("compute_payout_run", run)
    return run


def _beat(run: PayoutRun, **fields) -> None:
    PayoutRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(), **fields)


def compute_run(run: PayoutRun, *, now: datetime | None = None) -> PayoutRun:
    """The compute task's body: (re)build the run's lines from the ledger in
    one aggregate query, write them in chunks (progress and heartbeat after
    each), then put the run in review. Does nothing unless the run is
    computing; a worker that finds another took the run over stops (see
    ``_claim_computation``)."""
    claimed = _claim_computation(run.pk)
    if claimed is None:
        return PayoutRun.objects.get(pk=run.pk)
    run, stamp = claimed
    # One GROUP BY over the entries left-joined to their settlements.
    rows = list(
        unsettled_entries(run.cutoff)
        .order_by()
        .values("partner_id")
        .annotate(payable=Sum("amount_base"), entries=Count("id"))
        .exclude(payable=0)
        .values_list("partner_id", "payable", "entries")
    )
    with transaction.atomic():
        if _still_computing(run.pk, stamp) is None:
            return PayoutRun.objects.get(pk=run.pk)
        stamp = _beat_computation(run, stamp, partners_total=len(rows))
    for start in range(0, len(rows), COMPUTE_CHUNK):
        chunk = rows[start : start + COMPUTE_CHUNK]
        with transaction.atomic():
            if _still_computing(run.pk, stamp) is None:
                return PayoutRun.objects.get(pk=run.pk)
            PayoutLine.objects.bulk_create(
                PayoutLine(
                    tenant_id=run.tenant_id,
                    run=run,
                    partner_id=partner_id,
                    status=line_status(payable, run.minimum_payout),
                    payable=payable,
                    entry_count=count,
                )
                for partner_id, payable, count in chunk
            )
            stamp = _beat_computation(run, stamp, partners_done=F("partners_done") + len(chunk))
    with transaction.atomic():
        locked = _still_computing(run.pk, stamp)
        if locked is None:  # cancelled, or taken over, meanwhile
            return PayoutRun.objects.get(pk=run.pk)
        run = locked
        run.status = Status.REVIEW
        run.total_payable = _ready_total(run)
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "total_payable", "heartbeat_at"])
        audit(
            run.tenant,
            by=None,
            action="incentives.payout_run_computed",
            obj=run,
            data={"partners": len(rows), "total_payable": str(run.total_payable)},
            now=now,
        )
    return run


# --- Review ---------------------------------------------------------------------------


def set_hold(line: PayoutLine, *, by: Membership, hold: bool, reason: str = "") -> PayoutLine:
    """Hold a partner's line (not paid in this run; a reason is required) or
    release it (its status follows its payable again). Only in review."""
    _require(
        by,
        "incentives.change_payoutrun",
        "Only finance may hold or release partners in a payout run.",
        line.tenant_id,
    )
    reason = (reason or "").strip()
    with transaction.atomic():
        run = _lock_run(line.run_id)
        _require_status(run, {Status.REVIEW}, "change holds (only a run in review can)")
        line = PayoutLine.objects.select_for_update().select_related("partner").get(pk=line.pk)
        partner = line.partner.name
        if hold:
            if line.status == LineStatus.HOLD:
                raise PayoutError(f"{partner} is already on hold in {run.reference}.")
            if not reason:
                raise PayoutError(f"Give the reason for holding {partner}'s payout.", "reason")
            if len(reason) > 300:
                raise PayoutError("The reason is at most 300 characters.", "reason")
            line.status = LineStatus.HOLD
            line.hold_reason = reason
        else:
            if line.status != LineStatus.HOLD:
                raise PayoutError(f"{partner} is not on hold in {run.reference}.")
            line.status = line_status(line.payable, run.minimum_payout)
            line.hold_reason = ""
        line.save(update_fields=["status", "hold_reason"])
        run.total_payable = _ready_total(run)
        run.save(update_fields=["total_payable"])
        audit(
            run.tenant,
            by=by.user,
            action="incentives.payout_line_held" if hold else "incentives.payout_line_released",
            obj=run,
            data={"partner": str(line.partner_id), "partner_name": partner, "reason": reason},
        )
    return line


def cancel(run: PayoutRun, *, by: Membership, reason: str) -> PayoutRun:
    """Drop a run before approval: nothing was paid, every entry stays payable."""
    _require(
        by, "incentives.change_payoutrun", "Only finance may cancel payout runs.", run.tenant_id
    )
    reason = (reason or "").strip()
    if not reason:
        raise PayoutError("Give the reason for cancelling the run.", "reason")
    with transaction.atomic():
        run = _lock_run(run.pk)
        if run.status == Status.FAILED and run.approved_at is not None:
            raise PayoutError(
                f"{run.reference} failed while writing payouts (some may be written); "
                "retry it instead of cancelling."
            )
        _require_status(
            run,
            {Status.COMPUTING, Status.REVIEW, Status.FAILED},
            "be cancelled (only before approval)",
        )
        run.status = Status.CANCELLED
        run.save(update_fields=["status"])
        audit(
            run.tenant,
            by=by.user,
            action="incentives.payout_run_cancelled",
            obj=run,
            data={"reason": reason},
        )
    return run


def retry(run: PayoutRun, *, by: Membership) -> PayoutRun:
    """Start a failed run's task again: computing if it failed before
    approval, writing payouts if after (done partners are skipped)."""
    _require(
        by, "incentives.change_payoutrun", "Only finance may retry payout runs.", run.tenant_id
    )
    with transaction.atomic():
        run = _lock_run(run.pk)
        _require_status(run, {Status.FAILED}, "be retried (only a failed run can)")
        _lock_tenant_runs(run.tenant)
        _refuse_if_other_open(exclude=run)
        run.status = Status.COMPUTING if run.approved_at is None else Status.APPROVING
        run.error = ""
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "error", "heartbeat_at"])
        audit(run.tenant, by=by.user, action="incentives.payout_run_retried", obj=run)
        _enqueue(
            "compute_payout_run" if run.status == Status.COMPUTING else "write_payout_run", run
        )
    return run


def record_failure(run: PayoutRun, error: Exception | str) -> PayoutRun:
    """A task's unexpected error: the run is marked failed with the error
    (finance retries it from its page)."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    with transaction.atomic():
        run = _lock_run(run.pk)
        if run.status not in (Status.COMPUTING, Status.APPROVING):
            return run
        run.status = Status.FAILED
        run.error = text[:4000]
        run.save(update_fields=["status", "error"])
        audit(
            run.tenant,
            by=None,
            action="incentives.payout_run_failed",
            obj=run,
            data={"error": text[:500]},
        )
    return run


# --- Approval and writing payouts ----------------------------------------------------------


def approve(run: PayoutRun, *, by: Membership, now: datetime | None = None) -> PayoutRun:
    """Approve the reviewed run: its ready lines get their payout entries
    from a task once this commits."""
    _require(
        by, "incentives.approve_payoutrun", "Only finance may approve payout runs.", run.tenant_id
    )
    now = now or timezone.now()
    with transaction.atomic():
        run = _lock_run(run.pk)
        _require_status(run, {Status.REVIEW}, "be approved (only a run in review can)")
        ready = PayoutLine.objects.filter(run=run, status=LineStatus.READY).count()
        if ready == 0:
            raise PayoutError(
                f"No partner is ready to be paid in {run.reference} (every line is on hold, "
                "below the minimum or negative); cancel the run instead."
            )
        run.status = Status.APPROVING
        run.approved_by = by.user
        run.approved_at = now
        run.partners_total = ready
        run.partners_done = 0
        run.heartbeat_at = timezone.now()
        run.error = ""
        run.save(
            update_fields=[
                "status",
                "approved_by",
                "approved_at",
                "partners_total",
                "partners_done",
                "heartbeat_at",
                "error",
            ]
        )
        audit(
            run.tenant,
            by=by.user,
            action="incentives.payout_run_approved",
            obj=run,
            data={"partners": ready, "total_payable": str(run.total_payable)},
            now=now,
        )
        _enqueue("write_payout_run", run)
    return run


_SETTLE = """
INSERT INTO incentives_settlement (id, tenant_id, entry_id, payout_id, run_id, partner_id)
SELECT new.id, %(tenant)s, new.entry_id, %(payout)s, %(run)s, %(partner)s
  FROM unnest(%(ids)s::uuid[], %(entries)s::uuid[]) AS new (id, entry_id)
"""


def _settle(run: PayoutRun, partner_id, payout: LedgerEntry, entry_ids: list) -> None:
    """Settlement rows for ``entry_ids`` (the payout among them), in one
    statement: a partner may have thousands of entries to settle."""
    with connection.cursor() as cursor:
        cursor.execute(
            _SETTLE,
            {
                "tenant": run.tenant_id,
                "payout": payout.pk,
                "run": run.pk,
                "partner": partner_id,
                "ids": [uuid7() for _ in entry_ids],
                "entries": entry_ids,
            },
        )


def _write_line(run: PayoutRun, line_id, partner_id, now: datetime | None) -> bool:
    """One partner's payout, all or nothing. Returns whether a payout was
    written by this call."""
    tenant = run.tenant
    with transaction.atomic():
        ledger.lock_partner(partner_id)
        line = PayoutLine.objects.select_for_update().get(pk=line_id)
        if line.status != LineStatus.READY or line.payout_entry_id is not None:
            return False  # done by an earlier or concurrent attempt
        key = f"payout:{run.pk}:{partner_id}"
        existing = LedgerEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            # Written with its settlements in one transaction: only link it.
            line.payout_entry = existing
            line.payable = -existing.amount_base
            line.entry_count = (
                Settlement.objects.filter(payout=existing).exclude(entry=existing).count()
            )
            line.status = LineStatus.PAID_OUT
            written = False
        else:
            rows = list(
                unsettled_entries(run.cutoff)
                .filter(partner_id=partner_id)
                .values_list("pk", "amount_base")
            )
            payable = sum((amount for _, amount in rows), ZERO)
            line.payable = payable
            line.entry_count = len(rows)
            status = line_status(payable, run.minimum_payout)
            written = status == LineStatus.READY
            if not written:
                line.status = status  # a clawback arrived since review
            else:
                today = tenant.local_today(now)
                entry = ledger.write(
                    tenant,
                    NewEntry(
                        partner_id=partner_id,
                        kind=LedgerEntry.Kind.PAYOUT,
                        amount=-payable,
                        currency=run.currency,
                        fx_rate=ledger.ONE,
                        source=LedgerEntry.Source.PAYOUT_RUN,
                        payout_run_id=run.pk,
                        effective_date=today,
                        available_on=today,
                        description=(
                            f"Payout {run.reference}: earnings payable on or before "
                            f"{run.cutoff:%Y-%m-%d}"
                        ),
                        idempotency_key=key,
                        created_via="incentives.payouts.write_payouts",
                        created_by=run.approved_by,
                    ),
                    now=now,
                )
                _settle(run, partner_id, entry, [*(pk for pk, _ in rows), entry.pk])
                line.payout_entry = entry
                line.status = LineStatus.PAID_OUT
        line.save(update_fields=["payout_entry", "payable", "entry_count", "status"])
        _beat(run, partners_done=F("partners_done") + 1)
    return written


def write_payouts(run: PayoutRun, *, now: datetime | None = None) -> PayoutRun:
    """The write task's body: a payout entry per ready partner, each in its
    own transaction (see the module text); then the run is approved. Safe to
    run again, or twice at once."""
    run = PayoutRun.objects.select_related("tenant", "approved_by").get(pk=run.pk)
    if run.status != Status.APPROVING:
        return run
    if run.currency != run.tenant.base_currency:
        raise PayoutError(
            f"{run.reference} was computed in {run.currency}, but the base currency is now "
            f"{run.tenant.base_currency}; payouts are not written in another currency. Set the "
            f"base currency back to {run.currency} and retry the run."
        )
    pending = list(
        PayoutLine.objects.filter(run=run, status=LineStatus.READY, payout_entry__isnull=True)
        .order_by("partner_id")
        .values_list("pk", "partner_id")
    )
    for line_id, partner_id in pending:
        _write_line(run, line_id, partner_id, now)
    with transaction.atomic():
        run = _lock_run(run.pk)
        if run.status != Status.APPROVING:
            return run
        if PayoutLine.objects.filter(
            run=run, status=LineStatus.READY, payout_entry__isnull=True
        ).exists():
            return run  # another worker is still writing; it finishes the run
        written = PayoutLine.objects.filter(run=run, payout_entry__isnull=False).aggregate(
            total=Sum("payable"), n=Count("id")
        )
        run.status = Status.APPROVED
        run.total_payable = written["total"] or ZERO
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "total_payable", "heartbeat_at"])
        audit(
            run.tenant,
            by=None,
            action="incentives.payout_run_written",
            obj=run,
            data={"payouts": written["n"], "total": str(run.total_payable)},
            now=now,
        )
    return run


# --- Paid ---------------------------------------------------------------------------------

_FILL_SETTLEMENTS = """
UPDATE incentives_settlement AS s
   SET paid_on = %(paid_on)s,
       days_close_to_paid = CASE WHEN e.kind = 'accrual'
                                 THEN %(paid_on)s::date - e.effective_date END
  FROM incentives_ledgerentry AS e
 WHERE e.id = s.entry_id AND s.run_id = %(run)s AND s.tenant_id = %(tenant)s
"""


def mark_paid(
    run: PayoutRun,
    *,
    by: Membership,
    reference: str,
    paid_on: date | None = None,
    now: datetime | None = None,
) -> PayoutRun:
    """Record that accounts payable sent the money: the payment reference,
    the paid date on every settlement of the run and, for accruals, the days
    from the deal's close to payment. Partner admins are told."""
    _require(
        by, "incentives.approve_payoutrun", "Only finance may mark payout runs paid.", run.tenant_id
    )
    now = now or timezone.now()
    reference = (reference or "").strip()
    if not reference:
        raise PayoutError(
            "Enter the payment reference (e.g. the bank's batch number).", "reference"
        )
    if len(reference) > 100:
        raise PayoutError("The payment reference is at most 100 characters.", "reference")
    tenant = run.tenant
    today = tenant.local_today(now)
    paid_on = paid_on or today
    if paid_on > today:
        raise PayoutError("The paid date cannot be in the future.", "paid_on")
    with transaction.atomic():
        run = _lock_run(run.pk)
        _require_status(run, {Status.APPROVED}, "be marked paid (only an approved run can)")
        approved_on = tenant.local_today(run.approved_at)
        if paid_on < approved_on:
            raise PayoutError(
                f"The paid date cannot be before the approval ({approved_on:%Y-%m-%d}).", "paid_on"
            )
        run.status = Status.PAID
        run.payment_reference = reference
        run.paid_by = by.user
        run.paid_at = now
        run.save(update_fields=["status", "payment_reference", "paid_by", "paid_at"])
        with connection.cursor() as cursor:
            cursor.execute(
                _FILL_SETTLEMENTS, {"paid_on": paid_on, "run": run.pk, "tenant": run.tenant_id}
            )
        _notify_paid(run, paid_on)
        audit(
            tenant,
            by=by.user,
            action="incentives.payout_run_paid",
            obj=run,
            data={"payment_reference": reference, "paid_on": str(paid_on)},
            now=now,
        )
    return run


def _notify_paid(run: PayoutRun, paid_on: date) -> None:
    # Each partner is sent to the statement that shows the payout line.
    period = IncentiveSettings.for_tenant(run.tenant).statement_period
    amounts, booked = {}, {}
    for partner_id, payable, start in PayoutLine.objects.filter(
        run=run, payout_entry__isnull=False
    ).values_list("partner_id", "payable", "payout_entry__statement_start"):
        amounts[partner_id] = payable
        booked[partner_id] = periods.period_start(start, period)
    admins = defaultdict(list)
    for member in Membership.objects.filter(
        role=Role.PARTNER_ADMIN,
        is_active=True,
        user__is_active=True,
        partner_id__in=list(amounts),
    ).select_related("user"):
        admins[member.partner_id].append(member.user)
    for partner_id, users in admins.items():
        money = format_money(amounts[partner_id], run.currency)
        notify(
            run.tenant,
            users,
            kind="incentives.payout_sent",
            title=f"Payout of {money} sent",
            body=(
                f"{run.tenant.name} paid {money} on {paid_on:%d %b %Y} (payout run "
                f"{run.reference}, payment reference {run.payment_reference}). It covers "
                f"your earnings payable on or before {run.cutoff:%d %b %Y}."
            ),
            url=f"{reverse('incentives:statement')}?period={booked[partner_id]:%Y-%m-%d}",
        )


# --- Accounts payable export ----------------------------------------------------------------

AP_COLUMNS = [
    ("partner", "partner"),
    ("legal_name", "legal name"),
    ("partner_id", "partner id"),
    ("country", "country"),
    ("amount", "amount"),
    ("currency", "currency"),
    ("run", "payout run"),
    ("cutoff", "cutoff"),
    ("payment_reference", "payment reference"),
    ("status", "status"),
]


def ap_rows(run: PayoutRun) -> Iterator[dict]:
    """One row per payout written in the run, for accounts payable; the
    amount in the currency's minor unit (2 decimals for USD)."""
    lines = (
        PayoutLine.objects.filter(run=run, payout_entry__isnull=False)
        .select_related("partner")
        .order_by("partner__name", "partner_id")
    )
    status = run.get_status_display()
    for line in lines.iterator(chunk_size=1000):
        partner = line.partner
        yield {
            "partner": partner.name,
            "legal_name": partner.legal_name or partner.name,
            "partner_id": str(partner.pk),
            "country": partner.country.code or "",
            "amount": round_money(line.payable, run.currency),
            "currency": run.currency,
            "run": run.reference,
            "cutoff": run.cutoff,
            "payment_reference": run.payment_reference,
            "status": status,
        }
