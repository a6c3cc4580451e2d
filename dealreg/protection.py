"""Protection after approval: extension requests and the deal's outcome
(won, lost, corrected, reversed), which other apps hear of through
``signals.outcome_changed`` (see ``workflow``)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction

from prm import format as fmt
from prm.tenancy.models import Membership
from prm.tenancy.services import audit, finish_tasks, notify

from . import events
from .models import (
    DealRegistration,
    DealRegSettings,
    ExtensionRequest,
)
from .signals import outcome_changed
from .workflow import (
    DECIDE_EXTENSION,
    DealRegError,
    Kind,
    Status,
    admin_change_url,
    can_decide,
    detail_url,
    is_partner_member_of,
    lock_registration,
    partner_people,
    record_event,
    require_decider,
    require_partner,
    require_status,
    resolve_now,
)

# --- Protection: extensions and outcomes ------------------------------------------


def request_extension(
    registration: DealRegistration, *, by: Membership, reason: str, now: datetime | None = None
) -> ExtensionRequest:
    now = resolve_now(now)
    if not reason.strip():
        raise DealRegError("Say why the deal needs more time.", "reason")
    with transaction.atomic():
        registration = lock_registration(registration)
        require_partner(by, registration)
        require_status(registration, [Status.APPROVED], "extended")
        settings_row = DealRegSettings.for_tenant(registration.tenant)
        if registration.extension_count >= settings_row.max_extensions:
            raise DealRegError(
                "This registration has had its "
                f"{fmt.plural(settings_row.max_extensions, 'extension')}."
            )
        if registration.extension_requests.filter(status=ExtensionRequest.Status.PENDING).exists():
            raise DealRegError("An extension request is already waiting for a decision.")
        extension = ExtensionRequest.objects.create(
            tenant_id=registration.tenant_id,
            registration=registration,
            requested_by=by.user,
            reason=reason.strip(),
            days=settings_row.extension_days,
            previous_until=registration.protected_until,
            created_at=now,
        )
        record_event(
            registration,
            Kind.EXTENSION_REQUESTED,
            by=by.user,
            message=reason.strip(),
            data={"days": extension.days},
            now=now,
        )
        managers = [registration.approver, registration.partner.channel_manager]
        notify(
            registration.tenant,
            managers,
            kind="dealreg.extension_requested",
            title=f"{registration.code}: extension of {extension.days} days requested",
            body=reason.strip(),
            url=admin_change_url(registration),
            about=registration,
            task=DECIDE_EXTENSION,
        )
    return extension


def decide_extension(
    extension: ExtensionRequest,
    *,
    by: Membership,
    approve: bool,
    reason: str = "",
    now: datetime | None = None,
) -> ExtensionRequest:
    now = resolve_now(now)
    if not approve and not reason.strip():
        raise DealRegError("Give the partner a reason for refusing the extension.", "reason")
    with transaction.atomic():
        registration = lock_registration(extension.registration)
        extension = ExtensionRequest.objects.select_for_update().get(pk=extension.pk)
        require_decider(by, registration)
        if extension.status != ExtensionRequest.Status.PENDING:
            raise DealRegError("This extension request has already been decided.")
        extension.decided_by = by.user
        extension.decided_at = now
        extension.decision_reason = reason.strip()
        if approve:
            require_status(registration, [Status.APPROVED], "extended")
            assert registration.protected_until is not None  # approved: protected
            start = max(registration.protected_until, registration.tenant.local_today(now))
            registration.protected_until = start + timedelta(days=extension.days)
            registration.extension_count += 1
            registration.save(update_fields=["protected_until", "extension_count", "updated_at"])
            extension.status = ExtensionRequest.Status.APPROVED
            extension.new_until = registration.protected_until
            kind, title = (
                Kind.EXTENSION_APPROVED,
                (
                    f"{registration.code}: protection extended to "
                    f"{fmt.day(registration.protected_until)}"
                ),
            )
        else:
            extension.status = ExtensionRequest.Status.REJECTED
            kind, title = Kind.EXTENSION_REJECTED, f"{registration.code}: extension refused"
        extension.save()
        record_event(
            registration,
            kind,
            by=by.user,
            message=reason.strip(),
            data={"new_until": str(extension.new_until) if extension.new_until else None},
            now=now,
        )
        finish_tasks(registration, DECIDE_EXTENSION, now=now)
        notify(
            registration.tenant,
            partner_people(registration),
            kind=f"dealreg.{kind}",
            title=title,
            body=reason.strip(),
            url=detail_url(registration),
        )
    return extension


def record_outcome(
    registration: DealRegistration,
    *,
    by: Membership,
    won: bool,
    amount: Decimal | None = None,
    close_date: date | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> DealRegistration:
    """Won (amount and close date: what incentives pay on) or lost (reason),
    recorded by the partner or a channel manager who may decide it."""
    now = resolve_now(now)
    if won:
        if amount is None or amount <= 0:
            raise DealRegError("Enter the amount the deal was won for.", "amount")
        if close_date is None:
            raise DealRegError("Enter the date the deal closed.", "close_date")
        if close_date > registration.tenant.local_today(now):
            raise DealRegError("The close date cannot be in the future.", "close_date")
    elif not reason.strip():
        raise DealRegError("Say why the deal was lost.", "reason")
    with transaction.atomic():
        registration = lock_registration(registration)
        if not (is_partner_member_of(by, registration) or can_decide(by, registration)):
            raise DealRegError("You may not record the outcome of this registration.")
        require_status(registration, [Status.APPROVED], "closed as won or lost")
        registration.outcome_recorded_at = now
        if won:
            registration.status = Status.WON
            registration.won_amount = amount
            registration.won_currency = registration.currency
            registration.won_close_date = close_date
        else:
            registration.status = Status.LOST
            registration.lost_reason = reason.strip()
        registration.save()
        data = (
            {
                "amount": str(amount),
                "currency": registration.currency,
                "close_date": str(close_date),
            }
            if won
            else {}
        )
        record_event(
            registration,
            Kind.WON if won else Kind.LOST,
            by=by.user,
            message=reason.strip(),
            data=data,
            now=now,
        )
        audit(
            registration.tenant,
            by=by.user,
            action="dealreg.won" if won else "dealreg.lost",
            obj=registration,
            data=data,
            now=now,
        )
        other_side = (
            [registration.approver, registration.partner.channel_manager]
            if is_partner_member_of(by, registration)
            else partner_people(registration)
        )
        notify(
            registration.tenant,
            [u for u in other_side if u is not None and u != by.user],
            kind="dealreg.outcome",
            title=f"{registration.code} {'won' if won else 'lost'}",
            body=reason.strip(),
            url=detail_url(registration),
            email=False,
        )
        events.registration_changed(registration, events.WON if won else events.LOST, now=now)
        _outcome_changed(registration)
    return registration


def _outcome_changed(registration: DealRegistration) -> None:

    transaction.on_commit(
        lambda: outcome_changed.send(sender=DealRegistration, registration=registration)
    )


def _vendor_changed_outcome(
    registration: DealRegistration,
    *,
    by: Membership,
    kind: str,
    reason: str,
    data: dict[str, Any],
    title: str,
    now: datetime,
) -> None:
    """What follows a vendor's change to a won deal: the timeline event, the
    audit entry, the partner told, and incentives after commit."""
    record_event(registration, kind, by=by.user, message=reason.strip(), data=data, now=now)
    audit(
        registration.tenant,
        by=by.user,
        action=f"dealreg.{kind}",
        obj=registration,
        data=data,
        now=now,
    )
    notify(
        registration.tenant,
        partner_people(registration),
        kind="dealreg.outcome",
        title=f"{registration.code}: {title}",
        body=reason.strip(),
        url=detail_url(registration),
    )
    _outcome_changed(registration)


def _require_outcome_editor(by: Membership, registration: DealRegistration) -> None:
    """Won deals are corrected or reversed by the vendor (the channel
    manager who may decide it, or ops): it changes what the partner is paid."""
    if not can_decide(by, registration):
        raise DealRegError("Only the vendor can correct or reverse a won deal.")


def correct_outcome(
    registration: DealRegistration,
    *,
    by: Membership,
    amount: Decimal,
    close_date: date,
    reason: str,
    now: datetime | None = None,
) -> DealRegistration:
    """Correct a won deal's amount or close date (e.g. a partial refund or a
    booking error). Incentives adjusts what was accrued."""
    now = resolve_now(now)
    if amount is None or amount <= 0:
        raise DealRegError(
            "Enter the corrected amount; to cancel the deal, reverse the win.", "amount"
        )
    if close_date is None:
        raise DealRegError("Enter the date the deal closed.", "close_date")
    if close_date > registration.tenant.local_today(now):
        raise DealRegError("The close date cannot be in the future.", "close_date")
    if not reason.strip():
        raise DealRegError("Say why the outcome is corrected.", "reason")
    with transaction.atomic():
        registration = lock_registration(registration)
        _require_outcome_editor(by, registration)
        require_status(registration, [Status.WON], "corrected")
        if amount == registration.won_amount and close_date == registration.won_close_date:
            raise DealRegError("That is what is recorded already; nothing to correct.", "amount")
        data = {
            "amount": str(amount),
            "previous_amount": str(registration.won_amount),
            "close_date": str(close_date),
            "previous_close_date": str(registration.won_close_date),
            "currency": registration.won_currency,
        }
        registration.won_amount = amount
        registration.won_close_date = close_date
        registration.save()
        _vendor_changed_outcome(
            registration,
            by=by,
            kind=Kind.OUTCOME_CORRECTED,
            reason=reason,
            data=data,
            title=f"won amount corrected to {fmt.money(amount, registration.won_currency)}",
            now=now,
        )
    return registration


def reverse_win(
    registration: DealRegistration,
    *,
    by: Membership,
    reason: str,
    now: datetime | None = None,
) -> DealRegistration:
    """The customer cancelled or was refunded: the win no longer stands.
    Incentives claws back what was accrued on it."""
    now = resolve_now(now)
    if not reason.strip():
        raise DealRegError("Say why the win is reversed (cancelled, refunded...).", "reason")
    with transaction.atomic():
        registration = lock_registration(registration)
        _require_outcome_editor(by, registration)
        require_status(registration, [Status.WON], "reversed")
        registration.status = Status.REVERSED
        registration.reversal_reason = reason.strip()
        registration.save()
        _vendor_changed_outcome(
            registration,
            by=by,
            kind=Kind.REVERSED,
            reason=reason,
            data={"reason": reason.strip()},
            title="win reversed",
            now=now,
        )
    return registration
