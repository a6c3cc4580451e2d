"""What every MDF operation shares: who may do what, row locks, timeline
events, the people told, the links sent, and decision deadlines on the
vendor's business calendar (the one deal registration uses)."""

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from dealreg.models import DealRegSettings
from partners.models import Partner
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role

from .errors import MdfError
from .models import ActivityEvent, Claim, FundRequest, MdfSettings

Kind = ActivityEvent.Kind

# The tasks notifications ask for; the operation that does one closes them.
DECIDE = "decide"  # the approver: approve or reject the request
SECOND = "second_approval"  # ops or finance: the second approval of a large request
ANSWER = "answer"  # the partner: answer the reviewer's questions
REVIEW = "review_claim"  # finance: decide the claim
DECIDE_EXTENSION = "decide_extension"  # the approver: more time to claim, or not
CLAIM = "claim"  # the partner: claim an approved activity before its window closes


def resolve_now(now: datetime | None) -> datetime:
    return now or timezone.now()


def portal_url(request: FundRequest) -> str:
    return reverse("mdf:request", args=[request.code])


def admin_request_url(request: FundRequest) -> str:
    return reverse("tenant_admin:mdf_fundrequest_change", args=[request.pk])


def admin_claim_url(claim: Claim) -> str:
    return reverse("tenant_admin:mdf_claim_change", args=[claim.pk])


def record_event(
    request: FundRequest,
    kind: str,
    *,
    by: User | None = None,
    claim: Claim | None = None,
    message: str = "",
    visible: bool = True,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> ActivityEvent:
    return ActivityEvent.objects.create(
        tenant_id=request.tenant_id,
        request=request,
        claim=claim,
        kind=kind,
        actor=by,
        message=message,
        visible_to_partner=visible,
        data=data or {},
        created_at=resolve_now(now),
    )


def lock_request(request: FundRequest) -> FundRequest:
    return (
        FundRequest.objects.select_for_update(of=("self",))
        .select_related("fund_type", "partner", "allocation__budget")
        .get(pk=request.pk)
    )


def lock_claim(claim: Claim) -> Claim:
    return (
        Claim.objects.select_for_update(of=("self",))
        .select_related("request__fund_type", "request__allocation__budget", "partner")
        .get(pk=claim.pk)
    )


def require_status(obj: FundRequest | Claim, allowed: Collection[str], action: str) -> None:
    if obj.status not in allowed:
        what = "request" if isinstance(obj, FundRequest) else "claim"
        raise MdfError(f"A {what} that is {obj.get_status_display().lower()} cannot be {action}.")


def is_partner_member(by: Membership, partner_id: Any) -> bool:
    return (
        by.is_active
        and by.role in (Role.PARTNER_ADMIN, Role.PARTNER_USER)
        and by.partner_id == partner_id
        and by.has_perm("portal.mdf")
    )


def require_partner(by: Membership, partner_id: Any) -> None:
    if not is_partner_member(by, partner_id):
        raise MdfError("Only the partner's own people can do this.")


def require_perm(by: Membership, perm: str, obj: Any, message: str) -> None:
    if not by.is_active or not by.has_perm(perm, obj):
        raise MdfError(message)


def partner_people(partner_id: Any, *extra: User | None) -> list[User | None]:
    """Who hears about a partner's funds: the person who acted and the
    partner organisation's admins."""
    admins = [
        m.user
        for m in Membership.objects.filter(
            partner_id=partner_id, role=Role.PARTNER_ADMIN, is_active=True
        ).select_related("user")
    ]
    return [*extra, *admins]


def staff(*roles: str) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(
            role__in=roles, is_active=True, user__is_active=True
        ).select_related("user")
    ]


def approver_for(partner: Partner) -> User | None:
    """The partner's channel manager when they hold that role here; else
    None (ops decide, and are told)."""
    manager = partner.channel_manager
    if (
        manager is not None
        and Membership.objects.filter(
            user=manager, role=Role.CHANNEL_MANAGER, is_active=True
        ).exists()
    ):
        return manager
    return None


def due_at(tenant: Tenant, start: datetime, *, claims: bool = False) -> datetime:
    """The decision deadline: the tenant's business days for requests (or
    claims) after ``start``, on the vendor's business calendar."""
    settings_row = MdfSettings.for_tenant(tenant)
    days = settings_row.claim_decision_days if claims else settings_row.request_decision_days
    return DealRegSettings.for_tenant(tenant).calendar().add_days(start, days)


def start_clock(obj: FundRequest | Claim, now: datetime) -> None:
    """A new decision deadline from ``now`` (a submission, or the partner's
    answer): the reminder and escalation of the new cycle not yet sent."""
    obj.due_at = due_at(obj.tenant, now, claims=isinstance(obj, Claim))
    obj.next_check_at = reminder_at(obj.tenant, now, obj.due_at)
    obj.reminded_at = None
    obj.escalated_at = None


def reminder_at(tenant: Tenant, start: datetime, due: datetime) -> datetime:
    """When the decider is reminded: ``reminder_hours_before`` business
    hours before the deadline (at once if less is left)."""
    hours = timedelta(hours=MdfSettings.for_tenant(tenant).reminder_hours_before)
    calendar = DealRegSettings.for_tenant(tenant).calendar()
    left = calendar.between(start, due)
    return start if left <= hours else calendar.add(start, left - hours)
