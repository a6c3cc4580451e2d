"""Approving a run and writing its payouts (a task), each partner's
payout exactly once."""

import uuid
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from prm.tenancy.models import Membership, uuid7
from prm.tenancy.services import audit
from prm.webhooks.events import emit

from .. import ledger
from ..ledger import NewEntry
from ..models import IncentiveSettings, LedgerEntry, PayoutLine, PayoutRun, Settlement
from ..money import ZERO
from ..serializers import PayoutRunSerializer
from .common import (
    LineStatus,
    PayoutError,
    Status,
    beat,
    enqueue,
    line_status,
    lock_run,
    require_perm,
    require_status,
    unsettled_entries,
)

# --- Approval and writing payouts ----------------------------------------------------------


def maker_may_not_approve(run: PayoutRun) -> bool:
    """The tenant's four-eyes rule is on (the default)."""
    return IncentiveSettings.for_tenant(run.tenant).payout_maker_checker


def refuse_maker_as_checker(run: PayoutRun, by: Membership) -> None:
    if run.created_by_id == by.user_id and maker_may_not_approve(run):
        raise PayoutError(
            f"You started {run.reference}, so another finance person must approve it "
            "(four eyes on payout runs: see Incentive settings)."
        )


def approve(run: PayoutRun, *, by: Membership, now: datetime | None = None) -> PayoutRun:
    """Approve the reviewed run: its ready lines get their payout entries
    from a task once this commits."""
    require_perm(
        by, "incentives.approve_payoutrun", "Only finance may approve payout runs.", run.tenant_id
    )
    now = now or timezone.now()
    with transaction.atomic():
        run = lock_run(run.pk)
        require_status(run, {Status.REVIEW}, "be approved (only a run in review can)")
        refuse_maker_as_checker(run, by)
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
        enqueue("write_payout_run", run)
    return run


_SETTLE = """
INSERT INTO incentives_settlement (id, tenant_id, entry_id, payout_id, run_id, partner_id)
SELECT new.id, %(tenant)s, new.entry_id, %(payout)s, %(run)s, %(partner)s
  FROM unnest(%(ids)s::uuid[], %(entries)s::uuid[]) AS new (id, entry_id)
"""


def _settle(
    run: PayoutRun, partner_id: uuid.UUID, payout: LedgerEntry, entry_ids: list[uuid.UUID]
) -> None:
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


def _write_line(
    run: PayoutRun, line_id: uuid.UUID, partner_id: uuid.UUID, now: datetime | None
) -> bool:
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
        beat(run, partners_done=F("partners_done") + 1)
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
        run = lock_run(run.pk)
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
        # Approved once its payouts are written (the run's status says so
        # from here): once per run, under its lock.
        emit(run.tenant, "payout_run.approved", PayoutRunSerializer(run).data, now=now)
    return run
