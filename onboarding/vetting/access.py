"""What every vetting operation shares: who may decide, which
applications are whose, row locks, timeline events."""

from datetime import datetime

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from prm.tenancy.services import staff_with_role

from ..errors import OnboardingError
from ..models import Application, ApplicationEvent

Status = Application.Status
Kind = ApplicationEvent.Kind

DECIDE_PERM = "onboarding.decide_application"
NOTE_PERM = "onboarding.change_application"
# The task the reviewer's notifications ask for; a decision closes them.
DECIDE = "decide_application"


def resolve_now(now: datetime | None) -> datetime:
    return now or timezone.now()


def admin_url(application: Application) -> str:
    return reverse("tenant_admin:onboarding_application_change", args=[application.pk])


# --- Who may do what -------------------------------------------------------------------


def may_decide(membership: Membership, application: Application) -> bool:
    """Ops decide any application; a channel manager the ones routed to them."""
    if not membership.is_active or not membership.has_perm(DECIDE_PERM):
        return False
    if membership.role == Role.OPS_ADMIN:
        return True
    return application.reviewer_id is not None and application.reviewer_id == membership.user_id


def may_approve(membership: Membership, application: Application) -> bool:
    """Whoever may decide it: ops, or the channel manager it is assigned to
    (approving invites the applicant as the partner's first admin on the
    decider's behalf: ``invite(admitting=True)``)."""
    return may_decide(membership, application)


def require_decider(by: Membership, application: Application) -> None:
    if not may_decide(by, application):
        raise OnboardingError(
            "Only ops, or the channel manager it is assigned to, can decide this application."
        )


def assigned_to(membership: Membership) -> Q:
    """The applications this member reviews: for a channel manager those
    routed to them; for ops those routed to them or to nobody (ops review
    what no rule routes)."""
    if membership.role == Role.OPS_ADMIN:
        return Q(reviewer__isnull=True) | Q(reviewer_id=membership.user_id)
    return Q(reviewer_id=membership.user_id)


def waiting_for(membership: Membership) -> Q:
    """The applications waiting for this member's decision."""
    return Q(status=Status.SUBMITTED) & assigned_to(membership)


def overdue(now: datetime | None = None) -> Q:
    """Waiting for a decision past the deadline."""
    return Q(status=Status.SUBMITTED, due_at__isnull=False, due_at__lte=resolve_now(now))


def reviewers(application: Application) -> list[User]:
    """Who is asked to decide: the reviewer, else ops."""
    if application.reviewer is not None:
        return [application.reviewer]
    return staff_with_role(Role.OPS_ADMIN)


def lock(application: Application) -> Application:
    locked = (
        Application.objects.select_for_update(of=("self",))
        .select_related("reviewer")
        .get(pk=application.pk)
    )
    locked.tenant = application.tenant
    return locked


def copy_back(source: Application, target: Application) -> Application:
    """The caller's object as the locked row left it (a later save of it
    must not undo the change)."""
    for f in Application._meta.concrete_fields:
        setattr(target, f.attname, getattr(source, f.attname))
    return target


def require_status(application: Application, allowed: tuple[str, ...], action: str) -> None:
    if application.status not in allowed:
        raise OnboardingError(
            f"Application {application.code} is {application.get_status_display().lower()}: "
            f"it cannot be {action}."
        )


def event(
    application: Application,
    kind: str,
    now: datetime,
    *,
    by: User | None = None,
    message: str = "",
) -> ApplicationEvent:
    return ApplicationEvent.objects.create(
        tenant_id=application.tenant_id,
        application=application,
        kind=kind,
        by=by,
        message=message,
        at=now,
    )
