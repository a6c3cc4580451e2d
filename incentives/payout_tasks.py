"""Payout run tasks: computing a run's lines, writing its payouts, and the
beat job that finishes runs whose worker died.

The task bodies live in ``incentives.payouts`` and are safe to run again or
twice at once; acks_late keeps a message until the task has finished, and
``resume_stalled_runs`` re-enqueues a run whose heartbeat has stopped (a
worker killed mid-run leaves its message unacknowledged until the broker's
visibility timeout, far longer than a finance person should wait)."""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_scopes import scopes_disabled

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import payouts
from .models import PayoutRun

__all__ = ["compute_payout_run", "resume_stalled_runs", "write_payout_run"]

log = logging.getLogger(__name__)

Status = PayoutRun.Status
# A computing or writing run without a heartbeat for this long has lost its
# worker (a heartbeat comes after every chunk or partner, seconds apart).
STALLED_AFTER_SECONDS = 5 * 60


def _run_task(
    tenant: Tenant, run_id: str, body: Callable[[PayoutRun], PayoutRun], what: str
) -> str | None:
    run = PayoutRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    try:
        return body(run).status
    except Exception as exc:
        log.exception("Payout run %s (%s): %s failed", run.reference, tenant.slug, what)
        try:
            return payouts.record_failure(run, exc).status
        except Exception:
            log.exception("Payout run %s: could not record the failure", run.reference)
            raise exc from None


@app.task(base=TenantTask, acks_late=True)
def compute_payout_run(*, tenant: Tenant, run_id: str) -> str | None:
    """Build a computing run's lines and put it in review."""
    return _run_task(tenant, run_id, payouts.compute_run, "computing")


@app.task(base=TenantTask, acks_late=True)
def write_payout_run(*, tenant: Tenant, run_id: str) -> str | None:
    """Write an approving run's payout entries and approve it."""
    return _run_task(tenant, run_id, payouts.write_payouts, "writing payouts")


@app.task(name="incentives.payout_tasks.resume_stalled_runs")
def resume_stalled_runs(stale_after_seconds: int = STALLED_AFTER_SECONDS) -> int:
    """Beat: enqueue again every computing or writing run whose heartbeat
    (else approval or creation time) is older than ``stale_after_seconds``."""
    before = timezone.now() - timedelta(seconds=stale_after_seconds)
    with scopes_disabled():
        stalled = list(
            PayoutRun.objects.filter(
                status__in=[Status.COMPUTING, Status.APPROVING], tenant__is_active=True
            )
            .annotate(last_seen=Coalesce(F("heartbeat_at"), F("approved_at"), F("created_at")))
            .filter(last_seen__lte=before)
            .values_list("pk", "tenant_id", "status", "reference")
        )
    for run_id, tenant_id, status, reference in stalled:
        task = compute_payout_run if status == Status.COMPUTING else write_payout_run
        log.warning("Payout run %s stalled while %s: enqueued again", reference, status)
        task.delay(tenant_id=str(tenant_id), run_id=str(run_id))
    return len(stalled)
