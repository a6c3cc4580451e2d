"""What every deal registration operation shares: the refusal
(``DealRegError``), who may do what, the row and decision locks, timeline
events, the links sent in notifications and the SLA clock's state.

The operations themselves live in ``submission`` (drafts, submitting,
information requests), ``decisions`` (approve, reject, withdraw, reassign,
messages) and ``protection`` (extensions and outcomes); ``services`` is the
one place the rest of the product imports them from.

Every operation locks the registration row, refuses with ``DealRegError``
(a message for the person, and the form field it belongs to) when the
transition or the actor is not allowed, records a timeline event, and sends
notifications and background work after commit (tasks are enqueued by name:
no operation imports ``tasks``, which imports the operations). Services take
``now=`` so tests can move time.
"""

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from prm.tenancy import outbox
from prm.tenancy.errors import ServiceError
from prm.tenancy.locks import ADVISORY_XACT_LOCK_SQL, advisory_xact_lock
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role

from .models import (
    DealRegistration,
    DealRegSettings,
    RegistrationEvent,
)

Status = DealRegistration.Status
Kind = RegistrationEvent.Kind


# The tasks notifications about a registration ask for; the operation that
# does one closes them (``prm.tenancy.services.finish_tasks``).
DECIDE = "decide"  # the approver (ops when nobody is): approve or reject it
ANSWER = "answer"  # the partner: answer the approver's request for information
DECIDE_EXTENSION = "decide_extension"  # the approver: grant or refuse more time


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


def resolve_now(now: datetime | None) -> datetime:
    return now or timezone.now()


def record_event(
    registration: DealRegistration,
    kind: str,
    *,
    by: User | None = None,
    message: str = "",
    visible: bool = True,
    data: dict[str, Any] | None = None,
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
        created_at=resolve_now(now),
    )


def lock_registration(registration: DealRegistration) -> DealRegistration:
    return DealRegistration.objects.select_for_update().get(pk=registration.pk)


def require_status(registration: DealRegistration, allowed: Collection[str], action: str) -> None:
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


def require_partner(membership: Membership, registration: DealRegistration) -> None:
    if not is_partner_member_of(membership, registration):
        raise DealRegError("Only the registering partner can do this.")


def require_decider(membership: Membership, registration: DealRegistration) -> None:
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
    now = resolve_now(now)
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
    return calendar.between(resolve_now(now), registration.sla_due_at)


# --- Decisions, one at a time -------------------------------------------------------


# The tenant's decision lock, as an SQL expression taking
# ``decisions_lock_key(tenant_id)``: conflict checks take it in the same
# statement that prepares their match.
DECISIONS_LOCK_SQL = ADVISORY_XACT_LOCK_SQL


def decisions_lock_key(tenant_id: uuid.UUID) -> str:
    return f"dealreg:{tenant_id}"


def serialize_decisions(tenant: Tenant) -> None:
    """Decisions of one tenant run one at a time, so that two approvers
    approving two conflicting registrations at once cannot both succeed
    without an override: the second sees the first's approval."""
    advisory_xact_lock(decisions_lock_key(tenant.pk))


# Deferred by name: the tasks module imports this one.
CHECK_CONFLICTS = "dealreg.tasks.check_conflicts"


def check_conflicts_after_commit(registration: DealRegistration) -> None:
    """Run the conflict check of ``registration`` once this commits (through
    the outbox: a broker outage delays it, never loses it)."""
    outbox.defer(registration.tenant, CHECK_CONFLICTS, registration_id=str(registration.pk))
