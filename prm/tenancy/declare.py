"""The foundation's own declaration: people and access, notifications, the
admin, the home pages and the account pages."""

from datetime import timedelta
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils import timezone

from .declarations import Action, Card, Count, NavEntry, PRMApp
from .roles import ALL_ROLES, OPS, PARTNER_ROLES, STAFF_ROLES, Role
from .text import plural

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from .models import Invitation, Membership


def _open_invitations(membership: "Membership") -> "QuerySet[Invitation]":
    from .models import Invitation

    invitations = Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )
    if membership.role == Role.PARTNER_ADMIN:
        assert membership.partner_id is not None  # partner roles name a partner
        invitations = invitations.filter(partner_id=membership.partner_id)
    return invitations


def people_counts(membership: "Membership") -> list[Count]:
    waiting = _open_invitations(membership).count()
    if not waiting:
        return []
    return [Count(f"{plural(waiting, 'invitation')} not accepted yet", reverse("people"))]


# How far back the imports card looks.
RECENT_IMPORTS = timedelta(days=30)


def import_counts(membership: "Membership") -> list[Count]:
    """CSV imports of the last 30 days, from the audit log: every import
    service records one entry named "<app>.<what>_imported" (an import that
    fails changes nothing and records nothing)."""
    from .models import AuditEntry

    since = timezone.localdate() - RECENT_IMPORTS
    done = AuditEntry.objects.filter(action__endswith="imported", created_at__date__gte=since)
    count = done.count()
    url = reverse("tenant_admin:tenancy_auditentry_changelist")
    query = f"?action__endswith=imported&created_at__date__gte={since.isoformat()}"
    return [Count(f"{plural(count, 'import')} in the last 30 days", url + query)]


APP = PRMApp(
    label="tenancy",
    permissions={
        "portal.partner_home": PARTNER_ROLES,
        "portal.staff_home": STAFF_ROLES,
        "people.manage_staff": OPS,
        "people.manage_partner_colleagues": {Role.PARTNER_ADMIN},
        "admin.access": STAFF_ROLES,
        "portal.style_guide": STAFF_ROLES,
        "tenancy.view_membership": OPS,
        "tenancy.change_membership": OPS,
        "tenancy.view_invitation": OPS,
        "tenancy.add_invitation": OPS,
        "tenancy.delete_invitation": OPS,
        "tenancy.view_auditentry": {Role.OPS_ADMIN, Role.EXECUTIVE},
        "tenancy.view_tenant": OPS,
        "tenancy.change_tenant": OPS,
        "notifications.view": ALL_ROLES,
    },
    nav=(
        NavEntry("home", "Home", (), order=0),
        NavEntry(
            "people", "People", ("people.manage_staff", "people.manage_partner_colleagues"), 800
        ),
        NavEntry("notifications", "Notifications", ("notifications.view",), 900),
        NavEntry("tenant_admin:index", "Admin", ("admin.access",), 950),
    ),
    cards=(
        Card(
            key="tenancy.people",
            title="People and access",
            url_name="people",
            perms=("people.manage_staff",),
            description="Invite staff and partner admins, deactivate access.",
            counts=people_counts,
            order=800,
        ),
        Card(
            key="tenancy.team",
            title="Your team",
            url_name="people",
            perms=("people.manage_partner_colleagues",),
            description="Invite colleagues and manage their access.",
            counts=people_counts,
            actions=(Action("Manage colleagues", "people"),),
            order=800,
        ),
        Card(
            key="tenancy.imports",
            title="Imports",
            url_name="tenant_admin:tenancy_auditentry_changelist",
            perms=("tenancy.change_tenant",),
            description="What was brought in from CSV files, as the audit log records it.",
            counts=import_counts,
            order=810,
        ),
        Card(
            key="tenancy.audit",
            title="Audit log",
            url_name="tenant_admin:tenancy_auditentry_changelist",
            perms=("tenancy.view_auditentry",),
            description="Who did what, when.",
            setup=True,
            order=900,
        ),
        Card(
            key="tenancy.settings",
            title="Program settings",
            url_name="tenant_admin:tenancy_tenantsettings_changelist",
            perms=("tenancy.change_tenant",),
            description="Time zone, currency, country, two-factor policy.",
            setup=True,
            order=910,
        ),
    ),
    url_matrix="prm.tenancy.url_matrix",
    beat={
        # The outbox relay: deferred work the commit could not hand over (the
        # broker was down) or whose task did not finish in time. Expires: a
        # backlog of relays while no worker runs is pointless, one will do.
        "tenancy-outbox": {
            "task": "prm.tenancy.tasks.relay_outbox",
            "schedule": 10.0,
            "options": {"expires": 30},
        },
    },
)
