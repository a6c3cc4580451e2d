"""Disputes: a partner questions a statement line, finance answers.

A partner admin opens a dispute on one of their organisation's ledger
entries with a message; both sides then write in its thread. Finance closes
it either with an adjustment (a new ledger entry through ``ledger.write``,
exactly once per dispute) or by rejecting it with a reason. Every operation
locks the dispute, refuses one that is closed, writes an audit entry and
tells the other side (in the portal and by mail).
"""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from prm.tenancy.admin_base import admin_url
from prm.tenancy.codes import public_code
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, finish_tasks, notify, staff_with_role

from . import ledger
from .ledger import IncentiveError, NewEntry
from .models import Dispute, DisputeMessage, LedgerEntry
from .money import format_money, minor_digits, round_money

Status = Dispute.Status
OPEN = (Status.OPEN, Status.ANSWERED)
PORTAL_PERM = "portal.incentives"
FINANCE_PERM = "incentives.change_dispute"
MAX_TEXT = 5000
# The same message sent again this soon by the same person is a double submit.
REPEAT_WINDOW = timedelta(minutes=10)
# Adjustments beyond this (base currency) are refused as a typing error.
MAX_ADJUSTMENT = Decimal("1000000000")


def new_dispute_code() -> str:
    """``DP-7KQ2M9XA`` (see ``prm.tenancy.codes``)."""
    return public_code("DP")


def partner_may_dispute(membership: Membership, partner_id: uuid.UUID | None) -> bool:
    return (
        membership.is_active
        and membership.has_perm(PORTAL_PERM)
        and membership.partner_id is not None
        and membership.partner_id == partner_id
    )


def finance_may_decide(membership: Membership) -> bool:
    return membership.is_active and membership.has_perm(FINANCE_PERM)


def _text(value: str | None, what: str, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise IncentiveError(f"Write {what}.", field)
    if len(text) > MAX_TEXT:
        raise IncentiveError(f"Keep it under {MAX_TEXT} characters (this has {len(text)}).", field)
    return text


def _lock(dispute: Dispute) -> Dispute:
    return (
        Dispute.objects.select_for_update(of=("self",))
        .select_related("partner", "entry", "tenant")
        .get(pk=dispute.pk)
    )


def _require_open(dispute: Dispute) -> None:
    if not dispute.is_open:
        raise IncentiveError(
            f"{dispute.code} is closed ({dispute.get_status_display().lower()}); "
            "if something is still wrong, open a new dispute on the line."
        )


def portal_url(dispute: Dispute) -> str:
    return reverse("incentives:dispute", args=[dispute.code])


def _partner_people(dispute: Dispute) -> list[User]:
    """Who hears from finance: the partner's admins and whoever opened it."""
    admins = [
        m.user
        for m in Membership.objects.filter(
            partner_id=dispute.partner_id,
            role=Role.PARTNER_ADMIN,
            is_active=True,
            user__is_active=True,
        ).select_related("user")
    ]
    return [*admins, dispute.opened_by]


def _tell_partner(dispute: Dispute, *, kind: str, title: str, body: str) -> None:
    notify(
        dispute.tenant,
        _partner_people(dispute),
        kind=kind,
        title=title,
        body=body,
        url=portal_url(dispute),
    )


# The task of finance's notifications about a dispute: answer or resolve
# it. Closed when finance answers, adjusts or rejects.
ANSWER_DISPUTE = "answer_dispute"


def _tell_finance(dispute: Dispute, *, kind: str, title: str, body: str) -> None:
    notify(
        dispute.tenant,
        staff_with_role(Role.FINANCE),
        kind=kind,
        title=title,
        body=body,
        url=admin_url(dispute),
        about=dispute,
        task=ANSWER_DISPUTE,
    )


def open_dispute(
    entry: LedgerEntry, *, by: Membership, message: str, now: datetime | None = None
) -> Dispute:
    """Dispute one statement line. Only the partner's admins may; a line has
    at most one open dispute. Pressing the button twice opens it once (the
    same person's same message returns the dispute it opened)."""
    now = now or timezone.now()
    if not partner_may_dispute(by, entry.partner_id):
        raise IncentiveError("Only your organisation's partner admins may dispute its lines.")
    message = _text(message, "what is wrong with this line", "message")
    tenant = entry.tenant
    with transaction.atomic():
        ledger.lock_partner(entry.partner_id)
        current = (
            Dispute.objects.filter(entry=entry, status__in=OPEN).order_by("created_at").first()
        )
        if current is not None:
            first = current.messages.order_by("created_at").first()
            if current.opened_by_id == by.user_id and first is not None and first.body == message:
                return current
            raise IncentiveError(
                f"This line is already disputed in {current.code}; write in its thread instead."
            )
        dispute = None
        for _ in range(5):
            try:
                with transaction.atomic():
                    dispute = Dispute.objects.create(
                        tenant=tenant,
                        code=new_dispute_code(),
                        partner_id=entry.partner_id,
                        entry=entry,
                        opened_by=by.user,
                        created_at=now,
                    )
                break
            except IntegrityError:  # the code was taken: draw another
                continue
        if dispute is None:
            raise IncentiveError("Could not open the dispute just now; try again.")
        DisputeMessage.objects.create(
            tenant=tenant,
            dispute=dispute,
            author=by.user,
            from_partner=True,
            body=message,
            created_at=now,
        )
        audit(
            tenant,
            by=by.user,
            action="incentives.dispute_opened",
            obj=dispute,
            data={"entry": str(entry.pk), "amount_base": str(entry.amount_base)},
            now=now,
        )
        _tell_finance(
            dispute,
            kind="incentives.dispute_opened",
            title=f"{dispute.code}: {entry.partner.name} disputes a statement line",
            body=f"{entry.description}\n\n{message}",
        )
    return dispute


def add_message(
    dispute: Dispute, *, by: Membership, body: str, now: datetime | None = None
) -> DisputeMessage:
    """A message in the thread, from the partner's side or from finance. A
    partner's message reopens an answered dispute; finance's marks it
    answered. The same message sent twice in a row is stored once."""
    now = now or timezone.now()
    from_partner = partner_may_dispute(by, dispute.partner_id)
    if not from_partner and not finance_may_decide(by):
        raise IncentiveError("You may not write in this dispute.")
    body = _text(body, "a message", "body")
    with transaction.atomic():
        dispute = _lock(dispute)
        _require_open(dispute)
        last = dispute.messages.order_by("-created_at").first()
        if (
            last is not None
            and last.author_id == by.user_id
            and last.body == body
            and now - last.created_at < REPEAT_WINDOW
        ):
            return last
        message = DisputeMessage.objects.create(
            tenant=dispute.tenant,
            dispute=dispute,
            author=by.user,
            from_partner=from_partner,
            body=body,
            created_at=now,
        )
        status = Status.OPEN if from_partner else Status.ANSWERED
        if dispute.status != status:
            dispute.status = status
            dispute.save(update_fields=["status"])
        audit(
            dispute.tenant,
            by=by.user,
            action="incentives.dispute_message",
            obj=dispute,
            data={"from_partner": from_partner, "status": status},
            now=now,
        )
        title = f"{dispute.code}: new message from {by.user.get_full_name()}"
        if from_partner:
            _tell_finance(dispute, kind="incentives.dispute_message", title=title, body=body)
        else:
            finish_tasks(dispute, ANSWER_DISPUTE, now=now)
            _tell_partner(dispute, kind="incentives.dispute_answered", title=title, body=body)
    return message


def _decision_checks(by: Membership, reason: str) -> str:
    if not finance_may_decide(by):
        raise IncentiveError("Only finance may resolve disputes.")
    return _text(reason, "the reason the partner will read", "reason")


def parse_amount(value: Decimal | str, currency: str) -> Decimal:
    """An adjustment amount: a non-zero Decimal in the currency's minor unit."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise IncentiveError("Enter the amount as a number, e.g. 125.50 or -40.", "amount") from exc
    if not amount.is_finite():
        raise IncentiveError("Enter the amount as a number, e.g. 125.50 or -40.", "amount")
    if amount == 0:
        raise IncentiveError(
            "An adjustment of zero changes nothing: enter the amount to credit "
            "(positive) or take back (negative), or reject the dispute.",
            "amount",
        )
    if round_money(amount, currency) != amount:
        raise IncentiveError(
            f"{currency} amounts have at most {minor_digits(currency)} decimals.", "amount"
        )
    if abs(amount) >= MAX_ADJUSTMENT:
        raise IncentiveError(
            f"{format_money(amount, currency)} is beyond any adjustment; check the amount.",
            "amount",
        )
    return amount


def resolve_with_adjustment(
    dispute: Dispute,
    *,
    by: Membership,
    amount: Decimal | str,
    reason: str,
    now: datetime | None = None,
) -> Dispute:
    """Close the dispute with an adjustment entry of ``amount`` (base
    currency; positive credits the partner), payable at once. The entry's
    idempotency key is the dispute's, so it is written once however often
    this runs."""
    now = now or timezone.now()
    reason = _decision_checks(by, reason)
    tenant = dispute.tenant
    amount = parse_amount(amount, tenant.base_currency)
    with transaction.atomic():
        dispute = _lock(dispute)
        _require_open(dispute)
        ledger.lock_partner(dispute.partner_id)
        today = tenant.local_today(now)
        entry = ledger.write(
            tenant,
            NewEntry(
                partner_id=dispute.partner_id,
                kind=LedgerEntry.Kind.ADJUSTMENT,
                amount=amount,
                currency=tenant.base_currency,
                fx_rate=ledger.ONE,
                source=LedgerEntry.Source.DISPUTE,
                dispute_id=dispute.pk,
                effective_date=today,
                available_on=today,
                description=f"Dispute {dispute.code} resolved: {reason}",
                idempotency_key=f"dispute:{dispute.pk}",
                created_via="incentives.disputes.resolve_with_adjustment",
                created_by=by.user,
            ),
            now=now,
        )
        dispute.status = Status.ADJUSTED
        dispute.resolution = reason
        dispute.resolved_by = by.user
        dispute.resolved_at = now
        dispute.adjustment = entry
        dispute.save(
            update_fields=["status", "resolution", "resolved_by", "resolved_at", "adjustment"]
        )
        money = format_money(entry.amount, entry.currency)
        audit(
            tenant,
            by=by.user,
            action="incentives.dispute_adjusted",
            obj=dispute,
            data={"entry": str(entry.pk), "amount": str(entry.amount), "reason": reason},
            now=now,
        )
        finish_tasks(dispute, ANSWER_DISPUTE, now=now)
        _tell_partner(
            dispute,
            kind="incentives.dispute_resolved",
            title=f"{dispute.code} resolved: adjustment of {money}",
            body=reason,
        )
    return dispute


def reject(
    dispute: Dispute, *, by: Membership, reason: str, now: datetime | None = None
) -> Dispute:
    """Close the dispute without a change to the ledger, saying why."""
    now = now or timezone.now()
    reason = _decision_checks(by, reason)
    with transaction.atomic():
        dispute = _lock(dispute)
        _require_open(dispute)
        dispute.status = Status.REJECTED
        dispute.resolution = reason
        dispute.resolved_by = by.user
        dispute.resolved_at = now
        dispute.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
        audit(
            dispute.tenant,
            by=by.user,
            action="incentives.dispute_rejected",
            obj=dispute,
            data={"reason": reason},
            now=now,
        )
        finish_tasks(dispute, ANSWER_DISPUTE, now=now)
        _tell_partner(
            dispute,
            kind="incentives.dispute_rejected",
            title=f"{dispute.code} rejected",
            body=reason,
        )
    return dispute
