"""What every step of a payout run shares: the refusal, the run and
tenant locks, the one-open-run rule, line statuses and the heartbeat."""

import uuid
from collections.abc import Collection
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import timezone

from prm.broker import kick_on_commit
from prm.tenancy.locks import advisory_xact_lock
from prm.tenancy.models import Membership, Tenant

from ..ledger import IncentiveError
from ..models import LedgerEntry, PayoutLine, PayoutRun
from ..money import ZERO

Status = PayoutRun.Status
LineStatus = PayoutLine.Status
OPEN = (Status.COMPUTING, Status.REVIEW, Status.APPROVING)


class PayoutError(IncentiveError):
    """A refused payout-run operation; ``str(error)`` is the message."""


# --- Helpers ---------------------------------------------------------------------------


def require_perm(
    by: Membership | None, perm: str, message: str, tenant_id: uuid.UUID | None = None
) -> None:
    if by is None or not by.has_perm(perm):
        raise PayoutError(message)
    if tenant_id is not None and by.tenant_id != tenant_id:
        raise PayoutError(message)


def lock_run(run_id: uuid.UUID | str) -> PayoutRun:
    """The run, its row locked until the transaction ends (not its tenant's)."""
    return PayoutRun.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=run_id)


def require_status(run: PayoutRun, allowed: Collection[str], doing: str) -> None:
    if run.status not in allowed:
        raise PayoutError(
            f"{run.reference} is {run.get_status_display().lower()}; it cannot {doing}."
        )


def lock_tenant_runs(tenant: Tenant) -> None:
    """Serialize starting (and restarting) runs of one tenant, so two
    finance people pressing "start" at once cannot open two runs."""
    advisory_xact_lock(f"incentives:payoutruns:{tenant.pk}")


def open_run(exclude: PayoutRun | None = None) -> PayoutRun | None:
    """The tenant's run that blocks starting another: one computing, in
    review or writing payouts, or one that failed while writing them."""
    runs = PayoutRun.objects.filter(status__in=OPEN)
    failed_mid_write = PayoutRun.objects.filter(status=Status.FAILED, approved_at__isnull=False)
    if exclude is not None:
        runs = runs.exclude(pk=exclude.pk)
        failed_mid_write = failed_mid_write.exclude(pk=exclude.pk)
    return runs.first() or failed_mid_write.first()


def refuse_if_other_open(exclude: PayoutRun | None = None) -> None:
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


def unsettled_entries(cutoff: date) -> QuerySet[LedgerEntry]:
    """Entries no payout has settled yet that are payable on ``cutoff``."""
    return LedgerEntry.objects.filter(available_on__lte=cutoff, settlement__isnull=True)


def ready_total(run: PayoutRun) -> Decimal:
    total = PayoutLine.objects.filter(run=run, status=LineStatus.READY).aggregate(t=Sum("payable"))
    return total["t"] or ZERO


def enqueue(task_name: str, run: PayoutRun) -> None:
    """Queue ``payout_tasks.<task_name>`` for the run after commit (by name:
    the tasks module imports this one). A kick: a run computing or writing
    without a heartbeat is state ``resume_stalled_runs`` finds, if the
    broker is down now or the worker dies."""
    kick_on_commit(
        f"incentives.payout_tasks.{task_name}", tenant_id=str(run.tenant_id), run_id=str(run.pk)
    )


def beat(run: PayoutRun, **fields: Any) -> None:
    PayoutRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(), **fields)
