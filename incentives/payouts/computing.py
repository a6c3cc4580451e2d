"""Starting a payout run and computing its lines (a task), the
computation fenced by the run's heartbeat."""

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max, Sum
from django.utils import timezone

from prm.tenancy.models import Membership, Tenant
from prm.tenancy.services import audit

from ..models import IncentiveSettings, PayoutLine, PayoutRun
from ..money import ZERO
from .common import (
    PayoutError,
    Status,
    enqueue,
    line_status,
    lock_run,
    lock_tenant_runs,
    ready_total,
    refuse_if_other_open,
    require_perm,
    unsettled_entries,
)

# Lines written per transaction while computing (the progress steps).
COMPUTE_CHUNK = 1000


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


def claim_computation(run_id: uuid.UUID | str) -> tuple[PayoutRun, datetime] | None:
    """Make this worker the one computing the run, its lines emptied; None
    unless the run is computing. In its own transaction."""
    with transaction.atomic():
        run = lock_run(run_id)
        if run.status != Status.COMPUTING:
            return None
        PayoutLine.objects.filter(run=run).delete()
        run.partners_total = run.partners_done = 0
        run.total_payable = ZERO
        run.heartbeat_at = _next_stamp(run.heartbeat_at)
        run.save(update_fields=["partners_total", "partners_done", "total_payable", "heartbeat_at"])
    return run, run.heartbeat_at


def still_computing(run_id: uuid.UUID | str, stamp: datetime) -> PayoutRun | None:
    """Inside a transaction: the run, row locked, if this worker (``stamp``)
    still computes it; None if it was cancelled or another worker claimed it."""
    run = lock_run(run_id)
    if run.status != Status.COMPUTING or run.heartbeat_at != stamp:
        return None
    return run


def _beat_computation(run: PayoutRun, stamp: datetime, **fields: Any) -> datetime:
    """Move this worker's heartbeat (its token) on, with ``fields``."""
    stamp = _next_stamp(stamp)
    PayoutRun.objects.filter(pk=run.pk).update(heartbeat_at=stamp, **fields)
    return stamp


# --- Starting and computing --------------------------------------------------------------


def start_run(
    tenant: Tenant, *, by: Membership, cutoff: date, now: datetime | None = None
) -> PayoutRun:
    """Open a payout run of entries payable on or before ``cutoff``; its
    lines are computed by a task once this commits."""
    require_perm(by, "incentives.add_payoutrun", "Only finance may start payout runs.", tenant.pk)
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
        lock_tenant_runs(tenant)
        refuse_if_other_open()
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
        enqueue("compute_payout_run", run)
    return run


def compute_run(run: PayoutRun, *, now: datetime | None = None) -> PayoutRun:
    """The compute task's body: (re)build the run's lines from the ledger in
    one aggregate query, write them in chunks (progress and heartbeat after
    each), then put the run in review. Does nothing unless the run is
    computing; a worker that finds another took the run over stops (see
    ``claim_computation``)."""
    claimed = claim_computation(run.pk)
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
        if still_computing(run.pk, stamp) is None:
            return PayoutRun.objects.get(pk=run.pk)
        stamp = _beat_computation(run, stamp, partners_total=len(rows))
    for start in range(0, len(rows), COMPUTE_CHUNK):
        chunk = rows[start : start + COMPUTE_CHUNK]
        with transaction.atomic():
            if still_computing(run.pk, stamp) is None:
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
        locked = still_computing(run.pk, stamp)
        if locked is None:  # cancelled, or taken over, meanwhile
            return PayoutRun.objects.get(pk=run.pk)
        run = locked
        run.status = Status.REVIEW
        run.total_payable = ready_total(run)
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
