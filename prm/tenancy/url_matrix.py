"""The foundation's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only (``PRMApp.url_matrix``): its portal routes and one
object of a tenant per admin model. ``world`` is the tests' fixture (Any here)."""

import uuid
from collections.abc import Callable
from typing import Any

from .models import AuditEntry, Invitation, Membership
from .roles import ALL_ROLES, STAFF_ROLES, Role
from .services import invite

PEOPLE = {Role.OPS_ADMIN, Role.PARTNER_ADMIN}


def _partner_invitation(world: Any) -> list[uuid.UUID]:
    with world.scope():
        invitation, _ = invite(
            tenant=world.tenant,
            by=world[Role.OPS_ADMIN],
            email="matrix.invitee@example.test",
            role=Role.PARTNER_USER,
            partner=world.partner,
        )
    return [invitation.pk]


def _audit_entry(world: Any) -> AuditEntry | None:
    with world.scope():
        return AuditEntry.objects.filter(tenant=world.tenant).first()


def _invitation(world: Any) -> Invitation:
    with world.scope():
        return Invitation.objects.get(pk=_partner_invitation(world)[0])


def _membership(world: Any) -> Membership:
    with world.scope():
        return Membership.objects.get(pk=world[Role.PARTNER_USER].pk)


PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "home": {"allowed": ALL_ROLES},
    "people": {"allowed": PEOPLE},
    "people_invite": {"allowed": PEOPLE, "method": "post"},
    "invitation_revoke": {"allowed": PEOPLE, "method": "post", "args": _partner_invitation},
    "membership_set_active": {
        "allowed": PEOPLE,
        "args": lambda w: [w[Role.PARTNER_USER].pk],
    },
    "accept_invitation": {
        "allowed": ALL_ROLES,
        "public": True,
        "args": lambda w: ["no-such-token"],
    },
    "account": {"allowed": ALL_ROLES},
    "account_profile": {"allowed": ALL_ROLES},
    "account_mails": {"allowed": ALL_ROLES},
    "notifications": {"allowed": ALL_ROLES},
    "notifications_read_all": {"allowed": ALL_ROLES, "method": "post"},
    # Without a notification id in the body: 400 (tests/tenancy/test_notifications.py
    # covers other people's and other tenants' notifications).
    "notification_open": {"allowed": ALL_ROLES, "method": "post"},
    "style_guide": {"allowed": STAFF_ROLES},
    "notification_read": {"allowed": ALL_ROLES, "method": "post"},
}
ADMIN_OBJECTS: dict[str, Callable[[Any], Any]] = {
    "tenancy.membership": _membership,
    "tenancy.invitation": _invitation,
    "tenancy.auditentry": _audit_entry,
    "tenancy.tenantsettings": lambda w: w.tenant,
}
# Where a model's admin allows less than the permission table: nobody may
# add memberships (invitations do that), edit invitations or the audit log,
# or add/delete the tenant itself.
ADMIN_NOBODY: set[tuple[str, str]] = {
    ("tenancy.membership", "add"),
    ("tenancy.invitation", "change"),
    ("tenancy.invitation", "delete"),
    ("tenancy.auditentry", "add"),
    ("tenancy.auditentry", "change"),
    ("tenancy.auditentry", "delete"),
    ("tenancy.tenantsettings", "add"),
    ("tenancy.tenantsettings", "delete"),
}
PERM_MODEL: dict[str, str] = {"tenancy.tenantsettings": "tenancy.tenant"}
