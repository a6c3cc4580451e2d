"""Deal registration operations: the whole workflow, from draft to outcome.

Every operation locks the registration row, refuses with ``DealRegError``
(a message for the person, and the form field it belongs to) when the
transition or the actor is not allowed, records a timeline event, and sends
notifications and background work after commit. Services take ``now=`` so
tests can move time.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from partners.models import Partner
from partners.normalize import normalize_domain, normalize_name
from prm.tenancy.errors import ServiceError
from prm.tenancy.locks import ADVISORY_XACT_LOCK_SQL, advisory_xact_lock
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, notify, staff_with_role

from .models import (
    DealRegistration,
    DealRegSettings,
    ExtensionRequest,
    ProductLine,
    RegistrationEvent,
    TierProtection,
)

Status = DealRegistration.Status
Kind = RegistrationEvent.Kind


class DealRegError(ServiceError):
    """A refused deal registration operation (see ``prm.tenancy.errors``)."""


# Fields a partner fills in (forms, imports, services).
REGISTRATION_FIELDS = (
    "customer_name",
    "customer_domain",
    "customer_country",
    "customer_region",
    "customer_contact_name",
    "customer_contact_email",
    "customer_contact_phone",
    "estimated_value",
    "currency",
    "expected_close_date",
    "description",
    "custom_data",
)


def detail_url(registration: DealRegistration) -> str:
    return reverse("dealreg:detail", args=[registration.code])


def admin_change_url(registration: DealRegistration) -> str:
    return reverse("tenant_admin:dealreg_dealregistration_change", args=[registration.pk])


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _event(
    registration: DealRegistration,
    kind: str,
    *,
    by: User | None = None,
    message: str = "",
    visible: bool = True,
    data: dict | None = None,
    now: datetime | None = None,
) -> RegistrationEvent:
    return RegistrationEvent.objects.create(
        tenant_id=registration.tenant_id,
        registration=registration,
        kind=kind,
        actor=by,
        message=message,
        visible_to_partner=visible,
        data=data or {},
        created_at=_now(now),
    )


def _lock(registration: DealRegistration) -> DealRegistration:
    return DealRegistration.objects.select_for_update().get(pk=registration.pk)


def _require_status(registration: DealRegistration, allowed, action: str) -> None:
    if registration.status not in allowed:
        raise DealRegError(
            f"A registration that is {registration.get_status_display().lower()} "
            f"cannot be {action}."
        )


def partner_people(registration: DealRegistration) -> list[User]:
    """Who hears about a registration on the partner's side: the submitter
    and the partner organisation's admins."""
    admins = [
        m.user
        for m in Membership.objects.filter(
            partner_id=registration.partner_id, role=Role.PARTNER_ADMIN, is_active=True
        ).select_related("user")
    ]
    return [registration.submitted_by, *admins]


# --- Who may do what -------------------------------------------------------


def is_partner_member_of(membership: Membership, registration: DealRegistration) -> bool:
    return membership.is_partner_role and membership.partner_id == registration.partner_id


def can_decide(membership: Membership, registration: DealRegistration) -> bool:
    """Ops decide any registration; a channel manager decides the ones
    routed to them and those of partners assigned to them."""
    if not membership.has_perm("dealreg.decide_dealregistration"):
        return False
    if membership.role == Role.OPS_ADMIN:
        return True
    return registration.approver_id == membership.user_id or membership.has_perm(
        "dealreg.decide_dealregistration", registration
    )


def _require_partner(membership: Membership, registration: DealRegistration) -> None:
    if not is_partner_member_of(membership, registration):
        raise DealRegError("Only the registering partner can do this.")


def _require_decider(membership: Membership, registration: DealRegistration) -> None:
    if not can_decide(membership, registration):
        raise DealRegError("You may not decide this registration.")


# --- SLA clock ----------------------------------------------------------------


def sla_state(registration: DealRegistration, now: datetime | None = None) -> str:
    """ "paused", "breached", "due_soon" (under a quarter of the SLA left),
    "on_track", or "" when no decision is pending."""
    if not registration.is_pending or registration.sla_due_at is None:
        return ""
    if registration.sla_paused:
        return "paused"
    now = _now(now)
    if now >= registration.sla_due_at:
        return "breached"
    settings_row = DealRegSettings.for_tenant(registration.tenant)
    left = settings_row.calendar().between(now, registration.sla_due_at)
    if left <= timedelta(hours=settings_row.sla_business_hours) / 4:
        return "due_soon"
    return "on_track"


def business_time_left(registration: DealRegistration, now: datetime | None = None) -> timedelta:
    if registration.sla_paused:
        return timedelta(seconds=registration.sla_remaining_seconds or 0)
    if registration.sla_due_at is None:
        return timedelta(0)
    calendar = DealRegSettings.for_tenant(registration.tenant).calendar()
    return calendar.between(_now(now), registration.sla_due_at)


# --- Drafts and submission -------------------------------------------------------


@dataclass
class RegistrationInput:
    """What a partner submits: the fields and the chosen product lines."""

    data: dict
    product_lines: list[ProductLine]


def _apply_input(registration: DealRegistration, given: RegistrationInput) -> None:
    for name in REGISTRATION_FIELDS:
        if name in given.data:
            setattr(registration, name, given.data[name])
    registration.customer_name = (registration.customer_name or "").strip()
    registration.customer_name_normalized = normalize_name(registration.customer_name)
    try:
        registration.customer_domain = normalize_domain(registration.customer_domain or "")
    except ValueError as exc:
        raise DealRegError(str(exc), "customer_domain") from exc
    registration.currency = (registration.currency or "").upper()


def _validate_for_submission(
    registration: DealRegistration, product_lines: list[ProductLine], now: datetime
) -> None:
    if not registration.customer_name_normalized:
        raise DealRegError("Enter the customer's company name.", "customer_name")
    if not product_lines:
        raise DealRegError("Choose at least one product line.", "product_lines")
    if any(not p.is_active for p in product_lines):
        raise DealRegError("One of the product lines is no longer offered.", "product_lines")
    if registration.estimated_value is None or registration.estimated_value <= 0:
        raise DealRegError("Enter the estimated deal value (more than zero).", "estimated_value")
    if registration.expected_close_date is None:
        raise DealRegError("Enter the expected close date.", "expected_close_date")
    if registration.expected_close_date < registration.tenant.local_today(now):
        raise DealRegError("The expected close date is in the past.", "expected_close_date")
    validate_custom_data(registration.custom_data or {})
    if registration.partner.status not in (Partner.Status.ACTIVE, Partner.Status.ONBOARDING):
        raise DealRegError(
            f"{registration.partner.name} is {registration.partner.get_status_display().lower()}"
            " and cannot register deals."
        )


def validate_custom_data(data: dict) -> None:
    """The tenant's active custom fields, answered as the form stores them:
    required ones present, numbers as decimal strings, dates as ISO dates,
    yes/no as booleans, choices among the options. Form field names are
    ``cf_<key>``."""
    from datetime import date
    from decimal import InvalidOperation

    from .models import CustomField

    for definition in CustomField.objects.filter(is_active=True):
        field_name = f"cf_{definition.key}"
        value = data.get(definition.key)
        if value in (None, "", []):
            if definition.required and definition.field_type != CustomField.Type.CHECKBOX:
                raise DealRegError(f"{definition.label}: this field is required.", field_name)
            continue
        kind = definition.field_type
        try:
            if kind == CustomField.Type.NUMBER:
                Decimal(str(value))
            elif kind == CustomField.Type.DATE:
                date.fromisoformat(str(value))
            elif (kind == CustomField.Type.CHECKBOX and not isinstance(value, bool)) or (
                kind == CustomField.Type.CHOICE and value not in definition.choice_list()
            ):
                raise ValueError
        except (ValueError, InvalidOperation) as exc:
            raise DealRegError(
                f"{definition.label}: “{value}” is not a valid answer.", field_name
            ) from exc


def _full_clean(registration: DealRegistration) -> None:
    try:
        registration.full_clean(exclude=["tenant", "code", "submitted_by", "partner"])
    except ValidationError as exc:
        field_name, messages = next(iter(exc.message_dict.items()))
        raise DealRegError(" ".join(messages), field_name) from exc


def _existing_for_token(tenant: Tenant, by: Membership, client_token) -> DealRegistration | None:
    """The registration an earlier press of the same form already made, if
    any. A token is the organisation's own: another's is refused, without
    saying whose."""
    if client_token is None:
        return None
    existing = DealRegistration.objects.filter(tenant=tenant, client_token=client_token).first()
    if existing is not None and existing.partner_id != by.partner_id:
        raise DealRegError("This form has expired; open a new one.")
    return existing


def save_draft(
    *,
    tenant: Tenant,
    by: Membership,
    given: RegistrationInput,
    registration: DealRegistration | None = None,
    client_token=None,
    now: datetime | None = None,
) -> DealRegistration:
    """Create or update a draft. A repeated create with the same form token
    returns the first draft instead of making another."""
    now = _now(now)
    if not by.is_partner_role:
        raise DealRegError("Only partners register deals.")
    if registration is None:
        existing = _existing_for_token(tenant, by, client_token)
        if existing is not None:
            return existing
    with transaction.atomic():
        if registration is None:
            registration = DealRegistration(
                tenant=tenant,
                partner=by.partner,
                submitted_by=by.user,
                client_token=client_token,
                created_at=now,
            )
            creating = True
        else:
            registration = _lock(registration)
            _require_partner(by, registration)
            _require_status(registration, [Status.DRAFT], "edited as a draft")
            creating = False
        _apply_input(registration, given)
        _full_clean(registration)
        try:
            with transaction.atomic():
                registration.save()
        except IntegrityError:
            existing = _existing_for_token(tenant, by, client_token)
            if existing is not None:
                return existing
            raise
        registration.product_lines.set(given.product_lines)
        if creating:
            _event(registration, Kind.CREATED, by=by.user, now=now)
    return registration


def submit(
    *,
    tenant: Tenant,
    by: Membership,
    given: RegistrationInput | None = None,
    registration: DealRegistration | None = None,
    client_token=None,
    now: datetime | None = None,
) -> DealRegistration:
    """Submit a new registration (``given``) or a draft. Starts the SLA clock,
    routes it to an approver and queues the conflict check. A repeated submit
    with the same form token returns the first registration."""
    from . import routing, sla
    from .tasks import check_conflicts

    now = _now(now)
    if not by.is_partner_role:
        raise DealRegError("Only partners register deals.")
    if registration is None:
        existing = _existing_for_token(tenant, by, client_token)
        if existing is not None and existing.status != Status.DRAFT:
            return existing
        # A form first saved as a draft and then submitted submits that draft.
        registration = existing
        if registration is None and given is None:
            raise DealRegError("Nothing to submit.")
    with transaction.atomic():
        if registration is None:
            registration = DealRegistration(
                tenant=tenant,
                partner=by.partner,
                submitted_by=by.user,
                client_token=client_token,
                created_at=now,
            )
        else:
            registration = _lock(registration)
            _require_partner(by, registration)
            _require_status(registration, [Status.DRAFT], "submitted")
        if given is not None:
            _apply_input(registration, given)
            product_lines = given.product_lines
        else:
            product_lines = list(registration.product_lines.all())
        _validate_for_submission(registration, product_lines, now)
        _full_clean(registration)
        settings_row = DealRegSettings.for_tenant(tenant)
        registration.status = Status.SUBMITTED
        registration.submitted_at = now
        registration.sla_cycle += 1
        registration.sla_due_at = settings_row.calendar().add(
            now, timedelta(hours=settings_row.sla_business_hours)
        )
        registration.conflict_state = DealRegistration.ConflictState.NOT_CHECKED
        # A new cycle: no reminder has been sent in it yet.
        registration.sla_next_check_at = sla.next_check_at(
            registration, settings_row, now, sent=set()
        )
        try:
            with transaction.atomic():
                registration.save()
        except IntegrityError:
            existing = _existing_for_token(tenant, by, client_token)
            if existing is not None:
                return existing
            raise
        registration.product_lines.set(product_lines)
        _event(registration, Kind.SUBMITTED, by=by.user, now=now)
        approver, rule = routing.choose_approver(registration)
        registration.approver = approver
        registration.save(update_fields=["approver"])
        _event(
            registration,
            Kind.ASSIGNED,
            visible=False,
            data={
                "approver": approver.email if approver else None,
                "rule": rule.name if rule else None,
            },
            now=now,
        )
        notify(
            tenant,
            [approver] if approver else staff_with_role(Role.OPS_ADMIN),
            kind="dealreg.assigned",
            title=f"New deal registration {registration.code} to decide",
            body=(
                f"{registration.partner.name} registered {registration.customer_name} "
                f"({registration.estimated_value} {registration.currency}). "
                f"Decision due {tenant.local_now(registration.sla_due_at):%a %d %b %H:%M}."
            ),
            url=admin_change_url(registration),
        )
        transaction.on_commit(
            lambda: check_conflicts.delay(
                tenant_id=str(tenant.pk), registration_id=str(registration.pk)
            )
        )
    return registration


# --- Information requests -----------------------------------------------------


def request_info(
    registration: DealRegistration, *, by: Membership, message: str, now: datetime | None = None
) -> DealRegistration:
    """Ask the partner for more information; the SLA clock pauses."""
    now = _now(now)
    if not message.strip():
        raise DealRegError("Say what information you need.", "message")
    with transaction.atomic():
        registration = _lock(registration)
        _require_decider(by, registration)
        _require_status(registration, [Status.SUBMITTED], "sent back for information")
        calendar = DealRegSettings.for_tenant(registration.tenant).calendar()
        left = calendar.between(now, registration.sla_due_at)
        registration.status = Status.MORE_INFO
        registration.sla_paused_at = now
        registration.sla_remaining_seconds = int(left.total_seconds())
        registration.sla_next_check_at = None  # the clock is paused
        registration.save(
            update_fields=[
                "status",
                "sla_paused_at",
                "sla_remaining_seconds",
                "sla_next_check_at",
                "updated_at",
            ]
        )
        _event(registration, Kind.INFO_REQUESTED, by=by.user, message=message.strip(), now=now)
        notify(
            registration.tenant,
            partner_people(registration),
            kind="dealreg.info_requested",
            title=f"{registration.code}: more information needed",
            body=message.strip(),
            url=detail_url(registration),
        )
    return registration


def provide_info(
    registration: DealRegistration,
    *,
    by: Membership,
    message: str,
    given: RegistrationInput | None = None,
    now: datetime | None = None,
) -> DealRegistration:
    """The partner answers; the SLA clock resumes with the time it had left.
    Changed customer details are checked for conflicts again."""
    from . import sla
    from .tasks import check_conflicts

    now = _now(now)
    if not message.strip():
        raise DealRegError("Write your answer.", "message")
    with transaction.atomic():
        registration = _lock(registration)
        _require_partner(by, registration)
        _require_status(registration, [Status.MORE_INFO], "answered")
        if given is not None:
            _apply_input(registration, given)
            _validate_for_submission(registration, given.product_lines, now)
            _full_clean(registration)
            registration.product_lines.set(given.product_lines)
        settings_row = DealRegSettings.for_tenant(registration.tenant)
        calendar = settings_row.calendar()
        remaining = timedelta(seconds=registration.sla_remaining_seconds or 0)
        registration.status = Status.SUBMITTED
        registration.sla_due_at = calendar.add(now, remaining) if remaining else now
        registration.sla_paused_at = None
        registration.sla_remaining_seconds = None
        registration.sla_next_check_at = sla.next_check_at(
            registration, settings_row, now, calendar=calendar
        )
        registration.save()
        _event(registration, Kind.INFO_PROVIDED, by=by.user, message=message.strip(), now=now)
        notify(
            registration.tenant,
            [registration.approver],
            kind="dealreg.info_provided",
            title=f"{registration.code}: the partner answered",
            body=message.strip(),
            url=admin_change_url(registration),
        )
        if given is not None:
            transaction.on_commit(
                lambda: check_conflicts.delay(
                    tenant_id=str(registration.tenant_id), registration_id=str(registration.pk)
                )
            )
    return registration


# --- Decisions ------------------------------------------------------------------


# The tenant's decision lock, as an SQL expression taking
# ``decisions_lock_key(tenant_id)``: conflict checks take it in the same
# statement that prepares their match.
DECISIONS_LOCK_SQL = ADVISORY_XACT_LOCK_SQL


def decisions_lock_key(tenant_id) -> str:
    return f"dealreg:{tenant_id}"


def _serialize_decisions(tenant: Tenant) -> None:
    """Decisions of one tenant run one at a time, so that two approvers
    approving two conflicting registrations at once cannot both succeed
    without an override: the second sees the first's approval."""
    advisory_xact_lock(decisions_lock_key(tenant.pk))


def approved_conflicts(registration: DealRegistration):
    """Conflicts of this registration with registrations already approved
    (either side of the stored pair)."""
    from .models import Conflict

    return Conflict.objects.filter(
        registration=registration, other_registration__status=Status.APPROVED
    ).select_related("other_registration__partner") | Conflict.objects.filter(
        other_registration=registration, registration__status=Status.APPROVED
    ).select_related("registration__partner")


def protection_days(registration: DealRegistration) -> int:
    override = TierProtection.objects.filter(tier_id=registration.partner.tier_id).first()
    if override is not None:
        return override.protection_days
    return DealRegSettings.for_tenant(registration.tenant).protection_days


def _sla_met(registration: DealRegistration, now: datetime) -> bool:
    if registration.status == Status.MORE_INFO:
        return (registration.sla_remaining_seconds or 0) > 0
    return now <= registration.sla_due_at


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
    from .conflicts import find_conflicts

    now = _now(now)
    with transaction.atomic():
        _serialize_decisions(registration.tenant)
        registration = _lock(registration)
        if not automatic:
            _require_decider(by, registration)
        _require_status(registration, DealRegistration.PENDING, "approved")
        # The stored check may not have run yet: decide on a fresh one.
        find_conflicts(registration, now=now)
        blocking = list(approved_conflicts(registration))
        if blocking:
            if automatic:
                raise DealRegError("Conflicts with an approved registration; not auto-approved.")
            if not override_reason.strip():
                codes = ", ".join(
                    c.other_registration.code
                    if c.registration_id == registration.pk
                    else c.registration.code
                    for c in blocking
                )
                raise DealRegError(
                    f"This registration conflicts with approved registration(s) {codes}. "
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
            days=protection_days(registration)
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
        _event(
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
        notify(
            registration.tenant,
            partner_people(registration),
            kind="dealreg.approved",
            title=f"{registration.code} approved: protected until "
            f"{registration.protected_until:%d %b %Y}",
            body=reason.strip(),
            url=detail_url(registration),
        )
    return registration


def reject(
    registration: DealRegistration, *, by: Membership, reason: str, now: datetime | None = None
) -> DealRegistration:
    now = _now(now)
    if not reason.strip():
        raise DealRegError("Give the partner a reason for the rejection.", "reason")
    with transaction.atomic():
        _serialize_decisions(registration.tenant)
        registration = _lock(registration)
        _require_decider(by, registration)
        _require_status(registration, DealRegistration.PENDING, "rejected")
        registration.sla_met = _sla_met(registration, now)
        registration.status = Status.REJECTED
        registration.decided_at = now
        registration.decided_by = by.user
        registration.decision_reason = reason.strip()
        registration.sla_paused_at = None
        registration.sla_next_check_at = None
        registration.save()
        _event(
            registration,
            Kind.REJECTED,
            by=by.user,
            message=reason.strip(),
            data={"sla_met": registration.sla_met},
            now=now,
        )
        audit(registration.tenant, by=by.user, action="dealreg.rejected", obj=registration, now=now)
        notify(
            registration.tenant,
            partner_people(registration),
            kind="dealreg.rejected",
            title=f"{registration.code} was not approved",
            body=reason.strip(),
            url=detail_url(registration),
        )
    return registration


def withdraw(
    registration: DealRegistration, *, by: Membership, reason: str = "", now: datetime | None = None
) -> DealRegistration:
    now = _now(now)
    with transaction.atomic():
        registration = _lock(registration)
        _require_partner(by, registration)
        _require_status(
            registration, [Status.DRAFT, *DealRegistration.PENDING, Status.APPROVED], "withdrawn"
        )
        was_pending = registration.is_pending
        registration.status = Status.WITHDRAWN
        registration.sla_paused_at = None
        registration.sla_next_check_at = None
        registration.save()
        _event(registration, Kind.WITHDRAWN, by=by.user, message=reason.strip(), now=now)
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
    now = _now(now)
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
        registration = _lock(registration)
        _require_status(registration, DealRegistration.PENDING, "reassigned")
        previous = registration.approver
        if previous == approver:
            raise DealRegError(f"{approver} is already the approver.", "approver")
        registration.approver = approver
        registration.save(update_fields=["approver", "updated_at"])
        _event(
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
        notify(
            registration.tenant,
            [approver],
            kind="dealreg.assigned",
            title=f"Deal registration {registration.code} reassigned to you",
            body=reason.strip(),
            url=admin_change_url(registration),
        )
    return registration


def add_message(
    registration: DealRegistration, *, by: Membership, text: str, now: datetime | None = None
) -> RegistrationEvent:
    """A message between the partner and the vendor on the registration."""
    now = _now(now)
    if not text.strip():
        raise DealRegError("Write a message.", "text")
    partner_side = is_partner_member_of(by, registration)
    if not partner_side and not can_decide(by, registration):
        # Staff who may only view (executives, finance) read the thread.
        raise DealRegError("You may not write on this registration.")
    with transaction.atomic():
        event = _event(registration, Kind.MESSAGE, by=by.user, message=text.strip(), now=now)
        if partner_side:
            recipients, url = [registration.approver], admin_change_url(registration)
        else:
            recipients, url = partner_people(registration), detail_url(registration)
        notify(
            registration.tenant,
            [u for u in recipients if u is not None and u != by.user],
            kind="dealreg.message",
            title=f"{registration.code}: new message from {by.user}",
            body=text.strip(),
            url=url,
        )
    return event


# --- Protection: extensions and outcomes ------------------------------------------


def request_extension(
    registration: DealRegistration, *, by: Membership, reason: str, now: datetime | None = None
) -> ExtensionRequest:
    now = _now(now)
    if not reason.strip():
        raise DealRegError("Say why the deal needs more time.", "reason")
    with transaction.atomic():
        registration = _lock(registration)
        _require_partner(by, registration)
        _require_status(registration, [Status.APPROVED], "extended")
        settings_row = DealRegSettings.for_tenant(registration.tenant)
        if registration.extension_count >= settings_row.max_extensions:
            raise DealRegError(
                f"This registration has had its {settings_row.max_extensions} extension(s)."
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
        _event(
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
    now = _now(now)
    if not approve and not reason.strip():
        raise DealRegError("Give the partner a reason for refusing the extension.", "reason")
    with transaction.atomic():
        registration = _lock(extension.registration)
        extension = ExtensionRequest.objects.select_for_update().get(pk=extension.pk)
        _require_decider(by, registration)
        if extension.status != ExtensionRequest.Status.PENDING:
            raise DealRegError("This extension request has already been decided.")
        extension.decided_by = by.user
        extension.decided_at = now
        extension.decision_reason = reason.strip()
        if approve:
            _require_status(registration, [Status.APPROVED], "extended")
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
                    f"{registration.protected_until:%d %b %Y}"
                ),
            )
        else:
            extension.status = ExtensionRequest.Status.REJECTED
            kind, title = Kind.EXTENSION_REJECTED, f"{registration.code}: extension refused"
        extension.save()
        _event(
            registration,
            kind,
            by=by.user,
            message=reason.strip(),
            data={"new_until": str(extension.new_until) if extension.new_until else None},
            now=now,
        )
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
    close_date=None,
    reason: str = "",
    now: datetime | None = None,
) -> DealRegistration:
    """Won (amount and close date: what incentives pay on) or lost (reason),
    recorded by the partner or a channel manager who may decide it."""
    now = _now(now)
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
        registration = _lock(registration)
        if not (is_partner_member_of(by, registration) or can_decide(by, registration)):
            raise DealRegError("You may not record the outcome of this registration.")
        _require_status(registration, [Status.APPROVED], "closed as won or lost")
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
        _event(
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
        _outcome_changed(registration)
    return registration


def _outcome_changed(registration: DealRegistration) -> None:
    from .signals import outcome_changed

    transaction.on_commit(
        lambda: outcome_changed.send(sender=DealRegistration, registration=registration)
    )


def _vendor_changed_outcome(
    registration: DealRegistration,
    *,
    by: Membership,
    kind: str,
    reason: str,
    data: dict,
    title: str,
    now: datetime,
) -> None:
    """What follows a vendor's change to a won deal: the timeline event, the
    audit entry, the partner told, and incentives after commit."""
    _event(registration, kind, by=by.user, message=reason.strip(), data=data, now=now)
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
    close_date,
    reason: str,
    now: datetime | None = None,
) -> DealRegistration:
    """Correct a won deal's amount or close date (e.g. a partial refund or a
    booking error). Incentives adjusts what was accrued."""
    now = _now(now)
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
        registration = _lock(registration)
        _require_outcome_editor(by, registration)
        _require_status(registration, [Status.WON], "corrected")
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
            title=f"won amount corrected to {amount} {registration.won_currency}",
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
    now = _now(now)
    if not reason.strip():
        raise DealRegError("Say why the win is reversed (cancelled, refunded...).", "reason")
    with transaction.atomic():
        registration = _lock(registration)
        _require_outcome_editor(by, registration)
        _require_status(registration, [Status.WON], "reversed")
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
