"""A run in review: holds, cancelling, retrying a failed run, and
recording a task's failure."""

from django.db import transaction
from django.utils import timezone

from prm.tenancy.models import Membership
from prm.tenancy.services import audit

from ..models import PayoutLine, PayoutRun
from .common import (
    LineStatus,
    PayoutError,
    Status,
    enqueue,
    line_status,
    lock_run,
    lock_tenant_runs,
    ready_total,
    refuse_if_other_open,
    require_perm,
    require_status,
)

# --- Review ---------------------------------------------------------------------------


def set_hold(line: PayoutLine, *, by: Membership, hold: bool, reason: str = "") -> PayoutLine:
    """Hold a partner's line (not paid in this run; a reason is required) or
    release it (its status follows its payable again). Only in review."""
    require_perm(
        by,
        "incentives.change_payoutrun",
        "Only finance may hold or release partners in a payout run.",
        line.tenant_id,
    )
    reason = (reason or "").strip()
    with transaction.atomic():
        run = lock_run(line.run_id)
        require_status(run, {Status.REVIEW}, "change holds (only a run in review can)")
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
        run.total_payable = ready_total(run)
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
    require_perm(
        by, "incentives.change_payoutrun", "Only finance may cancel payout runs.", run.tenant_id
    )
    reason = (reason or "").strip()
    if not reason:
        raise PayoutError("Give the reason for cancelling the run.", "reason")
    with transaction.atomic():
        run = lock_run(run.pk)
        if run.status == Status.FAILED and run.approved_at is not None:
            raise PayoutError(
                f"{run.reference} failed while writing payouts (some may be written); "
                "retry it instead of cancelling."
            )
        require_status(
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
    require_perm(
        by, "incentives.change_payoutrun", "Only finance may retry payout runs.", run.tenant_id
    )
    with transaction.atomic():
        run = lock_run(run.pk)
        require_status(run, {Status.FAILED}, "be retried (only a failed run can)")
        lock_tenant_runs(run.tenant)
        refuse_if_other_open(exclude=run)
        run.status = Status.COMPUTING if run.approved_at is None else Status.APPROVING
        run.error = ""
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "error", "heartbeat_at"])
        audit(run.tenant, by=by.user, action="incentives.payout_run_retried", obj=run)
        enqueue("compute_payout_run" if run.status == Status.COMPUTING else "write_payout_run", run)
    return run


def record_failure(run: PayoutRun, error: Exception | str) -> PayoutRun:
    """A task's unexpected error: the run is marked failed with the error
    (finance retries it from its page)."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    with transaction.atomic():
        run = lock_run(run.pk)
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
