"""Deal registrations from draft to submitted, and the information
requests of a pending one (see ``workflow`` for what operations share)."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from partners.models import Partner
from partners.normalize import normalize_domain, normalize_name
from prm import format as fmt
from prm.tenancy import registry
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, finish_tasks, notify, staff_with_role

from . import events, routing, sla
from .models import (
    CustomField,
    DealRegistration,
    DealRegSettings,
    ProductLine,
)
from .signals import registration_submitted
from .workflow import (
    ANSWER,
    DECIDE,
    REGISTRATION_FIELDS,
    DealRegError,
    Kind,
    Status,
    admin_change_url,
    check_conflicts_after_commit,
    detail_url,
    lock_registration,
    partner_people,
    record_event,
    require_decider,
    require_partner,
    require_status,
    resolve_now,
)

# What other apps' restrictions are asked about before a registration is
# submitted (``PRMApp.restrictions``: e.g. a partner out of compliance).
REGISTER = "dealreg.register"

# --- Drafts and submission -------------------------------------------------------


@dataclass
class RegistrationInput:
    """What a partner submits: the fields and the chosen product lines."""

    data: dict[str, Any]
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


def validate_custom_data(data: dict[str, Any]) -> None:
    """The tenant's active custom fields, answered as the form stores them:
    required ones present, numbers as decimal strings, dates as ISO dates,
    yes/no as booleans, choices among the options. Form field names are
    ``cf_<key>``."""
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


def _existing_for_token(
    tenant: Tenant, by: Membership, client_token: uuid.UUID | None
) -> DealRegistration | None:
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
    client_token: uuid.UUID | None = None,
    now: datetime | None = None,
) -> DealRegistration:
    """Create or update a draft. A repeated create with the same form token
    returns the first draft instead of making another."""
    now = resolve_now(now)
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
            registration = lock_registration(registration)
            require_partner(by, registration)
            require_status(registration, [Status.DRAFT], "edited as a draft")
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
            record_event(registration, Kind.CREATED, by=by.user, now=now)
    return registration


def delete_draft(registration: DealRegistration, *, by: Membership) -> str:
    """Delete a draft for good and return its code. A draft was never
    submitted: nobody at the vendor saw it, it holds no decision, SLA,
    conflict, protection or money, and nothing outside it points at it (its
    own "draft saved" event and product lines go with it). The audit log
    keeps that it existed and who deleted it (it names objects by type and
    id, not by a foreign key)."""
    with transaction.atomic():
        registration = lock_registration(registration)
        require_partner(by, registration)
        if registration.status != Status.DRAFT:
            raise DealRegError(
                f"{registration.code} was submitted; withdraw it instead of deleting it."
            )
        code = registration.code
        audit(
            registration.tenant,
            by=by.user,
            action="dealreg.draft_deleted",
            obj=registration,
            data={"code": code, "customer_name": registration.customer_name},
        )
        registration.delete()
    return code


def submit(
    *,
    tenant: Tenant,
    by: Membership,
    given: RegistrationInput | None = None,
    registration: DealRegistration | None = None,
    client_token: uuid.UUID | None = None,
    now: datetime | None = None,
) -> DealRegistration:
    """Submit a new registration (``given``) or a draft. Starts the SLA clock,
    routes it to an approver and queues the conflict check. A repeated submit
    with the same form token returns the first registration. Refused while
    another app's restriction on ``REGISTER`` refuses the partner."""
    now = resolve_now(now)
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
    refused = registry.refusal(REGISTER, by.partner)
    if refused is not None:
        raise DealRegError(refused.message)
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
            registration = lock_registration(registration)
            require_partner(by, registration)
            require_status(registration, [Status.DRAFT], "submitted")
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
        record_event(registration, Kind.SUBMITTED, by=by.user, now=now)
        approver, rule = routing.choose_approver(registration)
        registration.approver = approver
        registration.save(update_fields=["approver"])
        record_event(
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
            about=registration,
            task=DECIDE,
            body=(
                f"{registration.partner.name} registered {registration.customer_name} "
                f"({registration.estimated_value} {registration.currency}). "
                f"Decision due {fmt.moment(registration.sla_due_at, tenant.tzinfo)}."
            ),
            url=admin_change_url(registration),
        )
        events.registration_changed(registration, events.SUBMITTED, now=now)
        check_conflicts_after_commit(registration)
        submitted = registration
        transaction.on_commit(
            lambda: registration_submitted.send(sender=DealRegistration, registration=submitted)
        )
    return registration


# --- Information requests -----------------------------------------------------


def request_info(
    registration: DealRegistration, *, by: Membership, message: str, now: datetime | None = None
) -> DealRegistration:
    """Ask the partner for more information; the SLA clock pauses."""
    now = resolve_now(now)
    if not message.strip():
        raise DealRegError("Say what information you need.", "message")
    with transaction.atomic():
        registration = lock_registration(registration)
        require_decider(by, registration)
        require_status(registration, [Status.SUBMITTED], "sent back for information")
        calendar = DealRegSettings.for_tenant(registration.tenant).calendar()
        assert registration.sla_due_at is not None  # submitted: the clock runs
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
        record_event(
            registration, Kind.INFO_REQUESTED, by=by.user, message=message.strip(), now=now
        )
        notify(
            registration.tenant,
            partner_people(registration),
            kind="dealreg.info_requested",
            title=f"{registration.code}: more information needed",
            body=message.strip(),
            url=detail_url(registration),
            about=registration,
            task=ANSWER,
        )
        events.registration_changed(registration, events.INFORMATION_REQUESTED, now=now)
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
    now = resolve_now(now)
    if not message.strip():
        raise DealRegError("Write your answer.", "message")
    with transaction.atomic():
        registration = lock_registration(registration)
        require_partner(by, registration)
        require_status(registration, [Status.MORE_INFO], "answered")
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
        record_event(registration, Kind.INFO_PROVIDED, by=by.user, message=message.strip(), now=now)
        finish_tasks(registration, ANSWER, now=now)
        notify(
            registration.tenant,
            [registration.approver],
            kind="dealreg.info_provided",
            title=f"{registration.code}: the partner answered",
            body=message.strip(),
            url=admin_change_url(registration),
            about=registration,
            task=DECIDE,
        )
        if given is not None:
            check_conflicts_after_commit(registration)
    return registration
