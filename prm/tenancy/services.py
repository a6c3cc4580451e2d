"""Business operations on tenants, people and memberships.

Every write here runs in one transaction, refuses bad requests with
``TenancyError`` (a message fit to show the person), writes an audit entry
and defers side effects (mail) until the transaction commits.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import outbox
from .errors import ServiceError
from .mail_preferences import unwanted_mail
from .models import AuditEntry, Invitation, Membership, Notification, Tenant, User
from .roles import INVITABLE_ROLES, PARTNER_ROLES, STAFF_ROLES, Role

# Tasks deferred by name: the tasks module imports this one.
SEND_INVITATION = "prm.tenancy.tasks.send_invitation"
SEND_NOTIFICATION_EMAIL = "prm.tenancy.tasks.send_notification_email"


class TenancyError(ServiceError):
    """A refused tenancy operation (see ``prm.tenancy.errors``)."""


def audit(
    tenant: Tenant,
    *,
    by: User | None,
    action: str,
    obj: models.Model,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
    once_key: str = "",
) -> AuditEntry:
    """Record that ``by`` did ``action`` to ``obj``. ``once_key`` (inside
    ``once(tenant, key)``) makes the operation happen once per key."""
    return AuditEntry.objects.create(
        tenant=tenant,
        actor=by,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        data=data or {},
        created_at=now or timezone.now(),
        once_key=once_key,
    )


class AlreadyDone(ServiceError):
    """The operation was done before under the same once-key (a form sent
    twice): ``object_id`` is the object it made or changed then."""

    def __init__(self, entry: AuditEntry | None):
        super().__init__("That form was already sent.")
        self.object_id = entry.object_id if entry is not None else ""


ONCE_CONSTRAINT = "auditentry_once_key_unique"


def _is_once_violation(error: IntegrityError) -> bool:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == ONCE_CONSTRAINT


@contextmanager
def once(tenant: Tenant, key: str) -> Iterator[str]:
    """Run the block in a savepoint that an audit entry with ``once_key=key``
    makes happen once per key: the database refuses a second entry (a
    concurrent one waits for the first to commit), the second block is
    rolled back and ``AlreadyDone`` names what the first did. An empty key
    runs the block plainly. Yields the key for the ``audit`` call."""
    if not key:
        yield ""
        return
    try:
        with transaction.atomic():
            yield key
    except IntegrityError as error:
        if not _is_once_violation(error):
            raise
        earlier = AuditEntry.objects.filter(tenant=tenant, once_key=key).first()
        raise AlreadyDone(earlier) from None


def invitable_roles(membership: Membership) -> list[str]:
    allowed = INVITABLE_ROLES.get(membership.role, frozenset())
    return [role.value for role in Role if role in allowed]


def invite(
    *,
    tenant: Tenant,
    by: Membership,
    email: str,
    role: str,
    partner: Any = None,  # a partners.models.Partner (the foundation imports no app)
    now: datetime | None = None,
    admitting: bool = False,
) -> tuple[Invitation, str]:
    """Invite ``email`` into ``tenant`` with ``role``. Returns the invitation and
    the token for its link (only its hash is stored). The mail goes out when
    the transaction commits. ``admitting``: the applicant of a partner
    application its decider approved (a channel manager among them) joins
    as its partner's first admin; the caller has checked the decider, so
    the roles ``by`` may invite on the People page do not apply."""

    now = now or timezone.now()
    email = email.strip().lower()
    if not admitting and role not in invitable_roles(by):
        raise TenancyError("You may not invite people with that role.")
    if by.role == Role.PARTNER_ADMIN:
        partner = by.partner
    if role in PARTNER_ROLES and partner is None:
        raise TenancyError("Choose the partner organisation this person works for.")
    if role in STAFF_ROLES:
        partner = None
    if Membership.objects.filter(user__email__iexact=email, is_active=True).exists():
        raise TenancyError(f"{email} is already a member of {tenant.name}.")
    with transaction.atomic():
        # An open invitation for the same address is replaced, not duplicated;
        # but only by someone who could have revoked it (a partner admin must
        # not silently cancel an invitation ops sent to a colleague).
        for old in Invitation.objects.select_for_update().filter(
            email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        ):
            if not _may_manage(by, old.partner):
                raise TenancyError(
                    f"{email} already has an open invitation from someone else; "
                    "ask your program's ops team."
                )
            old.revoked_at = now
            old.save(update_fields=["revoked_at"])
            audit(tenant, by=by.user, action="invitation.replaced", obj=old, now=now)
        token, token_hash = Invitation.new_token()
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    tenant=tenant,
                    email=email,
                    role=role,
                    partner=partner,
                    token_hash=token_hash,
                    invited_by=by.user,
                )
        except IntegrityError as exc:  # a concurrent invitation for the same address
            raise TenancyError(f"{email} was invited a moment ago; reload the page.") from exc
        audit(
            tenant,
            by=by.user,
            action="invitation.sent",
            obj=invitation,
            data={"role": role, "partner": str(partner.pk) if partner else None},
            now=now,
        )
        outbox.defer(tenant, SEND_INVITATION, invitation_id=str(invitation.pk), token=token)
    return invitation, token


def find_open_invitation(token: str, now: datetime | None = None) -> Invitation | None:
    now = now or timezone.now()
    invitation = (
        Invitation.objects.select_related("partner", "invited_by")
        .filter(token_hash=Invitation.hash_token(token))
        .first()
    )
    if invitation is None or invitation.status(now) != "open":
        return None
    return invitation


def accept_invitation(
    invitation: Invitation,
    *,
    password: str,
    full_name: str = "",
    now: datetime | None = None,
) -> Membership:
    """Accept an open invitation. A new person sets their password; a person
    who already has an account (in another tenant) proves it with theirs."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status(now) != "open":
            raise TenancyError("This invitation has already been used, revoked or has expired.")
        user = User.objects.filter(email__iexact=invitation.email).first()
        if user is None:
            candidate = User(email=invitation.email, full_name=full_name.strip())
            try:
                validate_password(password, user=candidate)
            except ValidationError as exc:
                raise TenancyError(" ".join(exc.messages)) from exc
            candidate.set_password(password)
            candidate.save()
            user = candidate
        else:
            if not user.is_active or not user.check_password(password):
                raise TenancyError(
                    "An account with this email already exists; enter its current password."
                )
            if full_name.strip() and not user.full_name:
                user.full_name = full_name.strip()
                user.save(update_fields=["full_name"])
        EmailAddress.objects.update_or_create(
            user=user,
            email=invitation.email,
            defaults={"verified": True, "primary": True},
        )
        membership = Membership.objects.filter(user=user).first()
        if membership is not None and membership.is_active:
            raise TenancyError("You are already a member here; log in instead.")
        try:
            if membership is None:
                membership = Membership.objects.create(
                    tenant=invitation.tenant,
                    user=user,
                    role=invitation.role,
                    partner=invitation.partner,
                )
            else:
                membership.role = invitation.role
                membership.partner = invitation.partner
                membership.is_active = True
                membership.save(update_fields=["role", "partner", "is_active"])
        except IntegrityError as exc:
            raise TenancyError("You are already a member here; log in instead.") from exc
        invitation.accepted_at = now
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit(
            invitation.tenant,
            by=user,
            action="invitation.accepted",
            obj=membership,
            data={"role": membership.role},
            now=now,
        )
    return membership


def _may_manage(by: Membership, target_partner: models.Model | None) -> bool:
    if by.role == Role.OPS_ADMIN:
        return True
    return (
        by.role == Role.PARTNER_ADMIN
        and target_partner is not None
        and (target_partner.pk == by.partner_id)
    )


def revoke_invitation(invitation: Invitation, *, by: Membership) -> Invitation:
    if not _may_manage(by, invitation.partner):
        raise TenancyError("You may not revoke this invitation.")
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status() != "open":
            raise TenancyError("Only open invitations can be revoked.")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit(invitation.tenant, by=by.user, action="invitation.revoked", obj=invitation)
    return invitation


def open_invitations_sent(membership: Membership) -> models.QuerySet[Invitation]:
    """Invitations this person sent in their tenant that can still be accepted."""
    return Invitation.objects.filter(
        tenant_id=membership.tenant_id,
        invited_by_id=membership.user_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def set_membership_active(membership: Membership, *, by: Membership, active: bool) -> Membership:
    """Deactivate (or reactivate) someone's membership; they are logged out of
    this tenant at their next request, and the open invitations they sent
    here are revoked (nobody joins on the word of someone who left)."""
    if not _may_manage(by, membership.partner):
        raise TenancyError("You may not change this person's access.")
    if membership.pk == by.pk:
        raise TenancyError("You cannot deactivate your own access.")
    if by.role == Role.PARTNER_ADMIN and membership.role not in PARTNER_ROLES:
        raise TenancyError("You may not change this person's access.")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.is_active == active:
            state = "active" if active else "deactivated"
            raise TenancyError(f"{membership.user} is already {state}.")
        membership.is_active = active
        membership.save(update_fields=["is_active"])
        data: dict[str, Any] = {}
        if not active:
            revoked = list(open_invitations_sent(membership).values_list("email", flat=True))
            open_invitations_sent(membership).update(revoked_at=timezone.now())
            if revoked:
                data["invitations_revoked"] = revoked
        audit(
            membership.tenant,
            by=by.user,
            action="membership.reactivated" if active else "membership.deactivated",
            obj=membership,
            data=data,
        )
    return membership


def subject_key(obj: models.Model) -> str:
    """What a notification is about: ``"dealreg.dealregistration:<pk>"``."""
    return f"{obj._meta.label_lower}:{obj.pk}"


def notify(
    tenant: Tenant,
    users: Iterable[User | None],
    *,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    email: bool = True,
    about: models.Model | None = None,
    task: str = "",
) -> list[Notification]:
    """Tell people something, in the portal and (after commit, through the
    outbox) by mail. ``users`` may contain None and duplicates; both are
    dropped. A notification asking its readers to do something names the
    object it is ``about`` and the ``task``; the service that does the task
    closes it (``finish_tasks``)."""
    notes = Notification.objects.bulk_create(
        unsaved_notifications(
            tenant, users, kind=kind, title=title, body=body, url=url, about=about, task=task
        )
    )
    if email:
        mail_notifications(tenant, notes)
    return notes


def unsaved_notifications(
    tenant: Tenant,
    users: Iterable[User | None],
    *,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    about: models.Model | None = None,
    task: str = "",
) -> list[Notification]:
    """The rows ``notify`` inserts, for callers that insert many at once."""
    unique = {u.pk: u for u in users if u is not None}
    subject = subject_key(about) if about is not None else ""
    return [
        Notification(
            tenant=tenant,
            user=u,
            kind=kind,
            title=title[:200],
            body=body,
            url=url,
            subject=subject,
            task=task if subject else "",
        )
        for u in unique.values()
    ]


def finish_tasks(
    about: models.Model | Iterable[models.Model],
    *tasks: str,
    keep_for: Iterable[User | None] = (),
    now: datetime | None = None,
) -> int:
    """Close the open notifications asking for ``tasks`` about ``about`` (an
    object or several): the task is done, whoever did it. They are marked
    done, and read if they were not. ``keep_for`` leaves those of these
    users open (a reassigned registration stays the new approver's task).
    Returns how many were closed."""
    objects = [about] if isinstance(about, models.Model) else list(about)
    if not objects or not tasks:
        return 0
    now = now or timezone.now()
    open_tasks = Notification.objects.filter(
        subject__in=[subject_key(o) for o in objects], task__in=tasks, done_at__isnull=True
    ).exclude(user_id__in=[u.pk for u in keep_for if u is not None])
    return open_tasks.update(done_at=now, read_at=Coalesce("read_at", Value(now)))


def mail_notifications(tenant: Tenant, notes: Iterable[Notification]) -> None:
    """Mail ``notes`` once the current transaction commits (outbox), except
    to people who turned that kind's mails off (``mail_preferences``;
    the mail task asks again when it sends)."""
    notes = list(notes)
    unwanted = unwanted_mail(notes)
    outbox.defer_many(
        tenant,
        SEND_NOTIFICATION_EMAIL,
        [{"notification_id": str(n.pk)} for n in notes if (n.user_id, n.kind) not in unwanted],
    )


def staff_with_role(role: str) -> list[User]:
    """Active users holding ``role`` in the current tenant."""
    return [
        m.user
        for m in Membership.objects.filter(
            role=role, is_active=True, user__is_active=True
        ).select_related("user")
    ]
