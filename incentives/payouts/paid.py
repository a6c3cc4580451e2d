"""A written run paid by accounts payable: the payment recorded (and
partner admins told), and the rows of the accounts payable export."""

import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from prm import format as fmt
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, notify
from prm.webhooks.events import emit

from .. import periods
from ..models import IncentiveSettings, PayoutLine, PayoutRun
from ..money import format_money, round_money
from ..serializers import PayoutRunSerializer
from ..signals import payout_run_paid
from .common import (
    PayoutError,
    Status,
    lock_run,
    require_perm,
    require_status,
)

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
    require_perm(
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
        run = lock_run(run.pk)
        require_status(run, {Status.APPROVED}, "be marked paid (only an approved run can)")
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
        emit(tenant, "payout_run.paid", PayoutRunSerializer(run).data, now=now)
        # What else this payment paid (MDF claims' reimbursements) is told
        # by the apps that own it, in this transaction.
        payout_run_paid.send(sender=PayoutRun, run=run, paid_on=paid_on, now=now)
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
    admins: defaultdict[uuid.UUID, list[User]] = defaultdict(list)
    for member in Membership.objects.filter(
        role=Role.PARTNER_ADMIN,
        is_active=True,
        user__is_active=True,
        partner_id__in=list(amounts),
    ).select_related("user"):
        assert member.partner_id is not None  # a partner admin names their partner
        admins[member.partner_id].append(member.user)
    for partner_id, users in admins.items():
        money = format_money(amounts[partner_id], run.currency)
        notify(
            run.tenant,
            users,
            kind="incentives.payout_sent",
            title=f"Payout of {money} sent",
            body=(
                f"{run.tenant.name} paid {money} on {fmt.day(paid_on)} (payout run "
                f"{run.reference}, payment reference {run.payment_reference}). It covers "
                f"your earnings payable on or before {fmt.day(run.cutoff)}."
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


def ap_rows(run: PayoutRun) -> Iterator[dict[str, Any]]:
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
