"""Manual adjustments: finance books money owed to a partner (positive) or
taken back (negative) by hand, with a reason, as a new ledger entry."""

import re
import uuid
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from partners.models import Partner
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.services import audit

from .ledger import IncentiveError, NewEntry, lock_partner, rate_on, write
from .models import LedgerEntry
from .money import minor_digits, round_money

# Bigger than any plausible correction, well inside the column.
MAX_AMOUNT = Decimal("1000000000")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def adjustment_key(token: str) -> str:
    """The idempotency key of the adjustment made by the form with ``token``."""
    return f"manual:{token}"


def manual_adjustment(
    tenant: Tenant,
    *,
    by: Membership,
    partner: Partner,
    amount: Decimal,
    currency: str,
    effective_date: date,
    reason: str,
    token: str,
    now: datetime | None = None,
) -> LedgerEntry:
    """Write an ADJUSTMENT entry (source MANUAL) for ``partner``, payable at
    once, at the exchange rate in force on ``effective_date``, and an audit
    entry. ``token`` identifies the form it came from: the same token again
    (a double submit) returns the entry written the first time and writes
    nothing. Raises ``IncentiveError`` (with the form field it concerns) or
    ``NoRate``; nothing is written then."""
    now = now or timezone.now()
    today = tenant.local_today(now)
    if not by.has_perm("incentives.add_ledgerentry"):
        raise IncentiveError("Only finance may record manual adjustments.")
    if partner.tenant_id != tenant.pk:
        raise IncentiveError("Select a valid partner.", "partner")
    try:
        token = str(uuid.UUID(str(token)))
    except ValueError as exc:
        raise IncentiveError("The form is incomplete; reload the page and try again.") from exc
    reason = (reason or "").strip()
    if not reason:
        raise IncentiveError("Give the reason: the partner sees it on the statement.", "reason")
    currency = (currency or "").strip().upper()
    if not _CURRENCY.match(currency):
        raise IncentiveError("Use a three-letter ISO 4217 code, e.g. USD.", "currency")
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise IncentiveError("Enter an amount.", "amount")
    if amount == 0:
        raise IncentiveError(
            "An adjustment of zero changes nothing: enter a positive amount to pay the "
            "partner more or a negative one to take money back.",
            "amount",
        )
    if abs(amount) >= MAX_AMOUNT:
        raise IncentiveError(f"Enter an amount below {MAX_AMOUNT:,}.", "amount")
    digits = minor_digits(currency)
    if round_money(amount, currency) != amount:
        raise IncentiveError(
            f"{currency} amounts have {digits or 'no'} decimal{'s' if digits != 1 else ''}.",
            "amount",
        )
    if effective_date > today:
        raise IncentiveError(
            f"An adjustment takes effect today ({today:%Y-%m-%d}) or earlier.", "effective_date"
        )
    key = adjustment_key(token)
    with transaction.atomic():
        lock_partner(partner.pk)
        existing = LedgerEntry.objects.filter(idempotency_key=key).first()
        if existing is None:
            rate = rate_on(tenant, currency, effective_date)
            entry = write(
                tenant,
                NewEntry(
                    partner_id=partner.pk,
                    kind=LedgerEntry.Kind.ADJUSTMENT,
                    amount=amount,
                    currency=currency,
                    fx_rate=rate,
                    source=LedgerEntry.Source.MANUAL,
                    effective_date=effective_date,
                    available_on=today,
                    description=f"Adjustment: {reason}",
                    idempotency_key=key,
                    created_via="admin:manual_adjustment",
                    created_by=by.user,
                ),
                now=now,
            )
            created = entry.created_by_id == by.user_id and entry.created_at == now
        else:
            entry, created = existing, False
        if entry.partner_id != partner.pk or entry.amount != amount or entry.currency != currency:
            raise IncentiveError(
                "This form was already used for another adjustment; open a new form."
            )
        if created:
            audit(
                tenant,
                by=by.user,
                action="incentives.manual_adjustment",
                obj=entry,
                data={
                    "partner": str(partner.pk),
                    "amount": str(entry.amount),
                    "currency": currency,
                    "amount_base": str(entry.amount_base),
                    "fx_rate": str(entry.fx_rate),
                    "effective_date": str(effective_date),
                    "reason": reason,
                },
                now=now,
            )
    return entry
