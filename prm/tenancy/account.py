"""A member's own account: their profile and which mails they receive.

Every write runs in one transaction and writes an audit entry, like the
other services of the foundation (``prm.tenancy.services``).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from . import registry
from .models import MailPreference, Membership, User
from .services import audit


@dataclass(frozen=True)
class MailSwitch:
    """One line of a member's mail preferences: a notification kind their
    role can receive, and whether it is mailed to them."""

    key: str
    label: str
    email: bool


def update_profile(membership: Membership, *, full_name: str, phone: str, title: str) -> Membership:
    """Change the member's name and phone (the person's, in every program)
    and their job title (this program's). The form has validated the values."""
    user = membership.user
    changes: dict[str, list[str]] = {}
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        for field, value in (("full_name", full_name.strip()), ("phone", phone.strip())):
            if getattr(user, field) != value:
                changes[field] = [getattr(user, field), value]
                setattr(user, field, value)
        if membership.title != title.strip():
            changes["title"] = [membership.title, title.strip()]
            membership.title = title.strip()
            membership.save(update_fields=["title"])
        user_fields = [f for f in ("full_name", "phone") if f in changes]
        if user_fields:
            user.save(update_fields=user_fields)
        if changes:
            audit(
                membership.tenant,
                by=user,
                action="account.profile_changed",
                obj=membership,
                data=changes,
            )
    membership.user = user
    return membership


def mail_switches(membership: Membership) -> list[MailSwitch]:
    """The mailed notification kinds this member's role receives, in the
    order the apps declare them, each with the member's choice (on unless
    they turned it off)."""
    off = set(
        MailPreference.objects.filter(membership=membership, email=False).values_list(
            "kind", flat=True
        )
    )
    return [
        MailSwitch(kind.key, kind.label, kind.key not in off)
        for kind in registry.notification_kinds().values()
        if membership.role in kind.roles
    ]


def set_mail_preferences(membership: Membership, *, wanted: Iterable[str]) -> list[str]:
    """Mail the member the kinds in ``wanted`` and no other kind their role
    receives. Returns the keys whose setting changed."""
    switches = mail_switches(membership)
    wanted = set(wanted)
    changed = [s.key for s in switches if s.email != (s.key in wanted)]
    if not changed:
        return []
    with transaction.atomic():
        for key in changed:
            MailPreference.objects.update_or_create(
                tenant_id=membership.tenant_id,
                membership=membership,
                kind=key,
                defaults={"email": key in wanted},
            )
        audit(
            membership.tenant,
            by=membership.user,
            action="account.mail_preferences_changed",
            obj=membership,
            data={key: key in wanted for key in changed},
        )
    return changed
