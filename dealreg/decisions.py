"""Deciding registrations: approve (with protection), reject, withdraw,
reassign, and the messages of a registration (see ``workflow``).

Protection is effective-dated: a registration's protection period is that of
the tier its partner held on the day the registration was submitted (the
tenant's local date of ``submitted_at``; today for one never submitted), not
the tier it holds when the decision is made (``partners.tiers``)."""

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet

from partners import tiers
from prm import format as fmt
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, finish_tasks, notify

from . import events
from .conflicts import find_conflicts
from .models import (
    Conflict,
    DealRegistration,
    DealRegSettings,
    RegistrationEvent,
    TierProtection,
)
from .signals import registration_decided
from .workflow import (
    ANSWER,
    DECIDE,
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
    serialize_decisions,
)

# --- Decisions ------------------------------------------------------------------


def approved_conflicts(registration: DealRegistration) -> QuerySet[Conflict]:
    """Conflicts of this registration with registrations already approved
    (either side of the stored pair)."""
    return Conflict.objects.filter(
        registration=registration, other_registration__status=Status.APPROVED
    ).select_related("other_registration__partner") | Conflict.objects.filter(
        other_registration=registration, registration__status=Status.APPROVED
    ).select_related("registration__partner")


def _other_side(conflict: Conflict, registration: DealRegistration) -> DealRegistration:
    """The registration on the other side of a conflict between two registrations."""
    if conflict.registration_id != registration.pk:
        return conflict.registration
    assert conflict.other_registration is not None  # approved_conflicts pairs registrations
    return conflict.other_registration


def protection_tier_day(registration: DealRegistration, now: datetime | None = None) -> date:
    """The day whose tier decides protection: the submission's local date."""
    tenant = registration.tenant
    return tenant.local_today(registration.submitted_at or now)


def protection_days(registration: DealRegistration, now: datetime | None = None) -> int:
    """The protection period of the tier the partner held on the day the
    registration was submitted, else the tenant's default."""
    day = protection_tier_day(registration, now)
    tier_id = tiers.tier_id_on(registration.partner, day)
    override = TierProtection.objects.filter(tier_id=tier_id).first() if tier_id else None
    if override is not None:
        return override.protection_days
    return DealRegSettings.for_tenant(registration.tenant).protection_days


def _sla_met(registration: DealRegistration, now: datetime) -> bool:
    if registration.status == Status.MORE_INFO:
        return (registration.sla_remaining_seconds or 0) > 0
    assert registration.sla_due_at is not None  # pending: the clock runs
    return now <= registration.sla_due_at


def _decided_after_commit(registration: DealRegistration) -> None:
    transaction.on_commit(
        lambda: registration_decided.send(sender=DealRegistration, registration=registration)
    )


def approve(
    registration: DealRegistration,
    *,
    by: Membership | None,
    reason: str = "",
    override_reason: str = "",
    now: datetime | None = None,
    automatic: bool = False,
) -> DealRegistration:
    """Approve and grant protection. Conflicts with an approved registration
    need an explicit ``override_reason``. ``by=None`` with ``automatic`` is
    the SLA policy's auto-approval."""

    now = resolve_now(now)
    with transaction.atomic():
        serialize_decisions(registration.tenant)
        registration = lock_registration(registration)
        if not automatic:
            assert by is not None  # only the SLA policy approves without a person
            require_decider(by, registration)
        require_status(registration, DealRegistration.PENDING, "approved")
        # The stored check may not have run yet: decide on a fresh one.
        find_conflicts(registration, now=now)
        blocking = list(approved_conflicts(registration))
        if blocking:
            if automatic:
                raise DealRegError("Conflicts with an approved registration; not auto-approved.")
            if not override_reason.strip():
                codes = ", ".join(_other_side(c, registration).code for c in blocking)
                raise DealRegError(
                    f"This registration conflicts with approved "
                    f"{fmt.noun(len(blocking), 'registration')} {codes}. "
                    "Give a reason to approve it anyway.",
                    "override_reason",
                )
        # An automatic approval happens because the SLA has passed.
        registration.sla_met = False if automatic else _sla_met(registration, now)
        registration.status = Status.APPROVED
        registration.decided_at = now
        registration.decided_by = by.user if by else None
        registration.decision_reason = reason.strip()
        registration.protected_until = registration.tenant.local_today(now) + timedelta(
            days=protection_days(registration, now)
        )
        registration.sla_paused_at = None
        registration.sla_next_check_at = None
        registration.save()
        data = {
            "sla_met": registration.sla_met,
            "protected_until": str(registration.protected_until),
        }
        if blocking:
            data["override_reason"] = override_reason.strip()
            data["overridden"] = [str(c.pk) for c in blocking]
        record_event(
            registration,
            Kind.AUTO_APPROVED if automatic else Kind.APPROVED,
            by=by.user if by else None,
            message=reason.strip(),
            data=data,
            now=now,
        )
        audit(
            registration.tenant,
            by=by.user if by else None,
            action="dealreg.approved",
            obj=registration,
            data=data,
            now=now,
        )
        finish_tasks(registration, DECIDE, ANSWER, now=now)
        notify(
            registration.tenant,
            partner_people(registration),
            kind="dealreg.approved",
            title=f"{registration.code} approved: protected until "
            f"{fmt.day(registration.protected_until)}",
            body=reason.strip(),
            url=detail_url(registration),
        )
        events.registration_changed(registration, events.APPROVED, now=now)
        _decided_after_commit(registration)
    return registration


def reject(
    registration: DealRegistration, *, by: Membership, reason: str, now: datetime | None = None
) -> DealRegistration:
    now = resolve_now(now)
    if not reason.strip():
        raise DealRegError("Give the partner a reason for the rejection.", "reason")
    with transaction.atomic():
        serialize_decisions(registration.tenant)
        registration = lock_registration(registration)
        require_decider(by, registration)
        require_status(registration, DealRegistration.PENDING, "rejected")
        registration.sla_met = _sla_met(registration, now)
        registration.status = Status.REJECTED
        registration.decided_at = now
        registration.decided_by = by.user
        registration.decision_reason = reason.strip()
        registration.sla_paused_at = None
        registration.sla_next_check_at = None
        registration.save()
        record_event(
            registration,
            Kind.REJECTED,
            by=by.user,
            message=reason.strip(),
            data={"sla_met": registration.sla_met},
            now=now,
        )
        audit(registration.tenant, by=by.user, action="dealreg.rejected", obj=registration, now=now)
        finish_tasks(registration, DECIDE, ANSWER, now=now)
        notify(
            registration.tenant,
            partner_people(registration),
            kind="dealreg.rejected",
            title=f"{registration.code} was not approved",
            body=reason.strip(),
            url=detail_url(registration),
        )
        events.registration_changed(registration, events.REJECTED, now=now)
        _decided_after_commit(registration)
    return registration


def withdraw(
    registration: DealRegistration, *, by: Membership, reason: str = "", now: datetime | None = None
) -> DealRegistration:
    now = resolve_now(now)
    with transaction.atomic():
        registration = lock_registration(registration)
        require_partner(by, registration)
        if registration.status == Status.DRAFT:
            raise DealRegError(
                f"{registration.code} is a draft: delete it instead (nobody else has seen it)."
            )
        require_status(registration, [*DealRegistration.PENDING, Status.APPROVED], "withdrawn")
        was_pending = registration.is_pending
        registration.status = Status.WITHDRAWN
        registration.sla_paused_at = None
        registration.sla_next_check_at = None
        registration.save()
        record_event(registration, Kind.WITHDRAWN, by=by.user, message=reason.strip(), now=now)
        finish_tasks(registration, DECIDE, ANSWER, DECIDE_EXTENSION, now=now)
        if was_pending:
            notify(
                registration.tenant,
                [registration.approver],
                kind="dealreg.withdrawn",
                title=f"{registration.code} was withdrawn by the partner",
                body=reason.strip(),
                url=admin_change_url(registration),
                email=False,
            )
    return registration


def reassign(
    registration: DealRegistration,
    *,
    by: Membership,
    approver: User,
    reason: str = "",
    now: datetime | None = None,
) -> DealRegistration:
    """Ops hand a pending registration to another channel manager."""
    now = resolve_now(now)
    if not by.has_perm("dealreg.reassign_dealregistration"):
        raise DealRegError("Only ops admins reassign registrations.")
    if (
        not approver.is_active
        or not Membership.objects.filter(
            user=approver, role__in=[Role.CHANNEL_MANAGER, Role.OPS_ADMIN], is_active=True
        ).exists()
    ):
        raise DealRegError(f"{approver} cannot approve registrations here.", "approver")
    with transaction.atomic():
        registration = lock_registration(registration)
        require_status(registration, DealRegistration.PENDING, "reassigned")
        previous = registration.approver
        if previous == approver:
            raise DealRegError(f"{approver} is already the approver.", "approver")
        registration.approver = approver
        registration.save(update_fields=["approver", "updated_at"])
        record_event(
            registration,
            Kind.REASSIGNED,
            by=by.user,
            message=reason.strip(),
            visible=False,
            data={"from": previous.email if previous else None, "to": approver.email},
            now=now,
        )
        audit(
            registration.tenant,
            by=by.user,
            action="dealreg.reassigned",
            obj=registration,
            data={"from": previous.email if previous else None, "to": approver.email},
            now=now,
        )
        # Deciding it is no longer the previous approver's (or ops') task.
        finish_tasks(registration, DECIDE, keep_for=[approver], now=now)
        notify(
            registration.tenant,
            [approver],
            kind="dealreg.assigned",
            title=f"Deal registration {registration.code} reassigned to you",
            body=reason.strip(),
            url=admin_change_url(registration),
            about=registration,
            task=DECIDE,
        )
    return registration


def add_message(
    registration: DealRegistration, *, by: Membership, text: str, now: datetime | None = None
) -> RegistrationEvent:
    """A message between the partner and the vendor on the registration."""
    now = resolve_now(now)
    if not text.strip():
        raise DealRegError("Write a message.", "text")
    partner_side = is_partner_member_of(by, registration)
    if not partner_side and not can_decide(by, registration):
        # Staff who may only view (executives, finance) read the thread.
        raise DealRegError("You may not write on this registration.")
    with transaction.atomic():
        event = record_event(registration, Kind.MESSAGE, by=by.user, message=text.strip(), now=now)
        if partner_side:
            recipients, url = [registration.approver], admin_change_url(registration)
        else:
            recipients, url = list(partner_people(registration)), detail_url(registration)
        notify(
            registration.tenant,
            [u for u in recipients if u is not None and u != by.user],
            kind="dealreg.message",
            title=f"{registration.code}: new message from {by.user}",
            body=text.strip(),
            url=url,
        )
    return event
