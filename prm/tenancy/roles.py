"""Roles and what each may do: the one place where permissions are declared.

Views check these through ``prm.tenancy.access`` (decorators and mixins), the
Django admin through ``prm.tenancy.admin.TenantModelAdmin``; neither keeps a
list of its own. A permission that is not listed here is refused to everyone.

Permission names follow Django's ``<app_label>.<action>_<model>`` form for
model permissions (so the admin can ask for them by name) and
``<area>.<verb>`` for portal features.
"""

from django.db import models


class Role(models.TextChoices):
    OPS_ADMIN = "ops_admin", "Ops admin"
    CHANNEL_MANAGER = "channel_manager", "Channel manager"
    FINANCE = "finance", "Finance"
    EXECUTIVE = "executive", "Executive"
    PARTNER_ADMIN = "partner_admin", "Partner admin"
    PARTNER_USER = "partner_user", "Partner user"


STAFF_ROLES = frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE})
PARTNER_ROLES = frozenset({Role.PARTNER_ADMIN, Role.PARTNER_USER})
ALL_ROLES = STAFF_ROLES | PARTNER_ROLES

OPS = frozenset({Role.OPS_ADMIN})
FINANCE = frozenset({Role.FINANCE})
# Who may read incentive configuration and money figures in the admin.
FINANCE_READERS = frozenset({Role.OPS_ADMIN, Role.FINANCE, Role.EXECUTIVE})

# Roles that hold a permission only on the objects assigned to them (through a
# django-guardian object permission of the same name). Other listed roles hold
# it on every object of the tenant.
OBJECT_SCOPED: dict[str, frozenset[str]] = {
    "partners.change_partner": frozenset({Role.CHANNEL_MANAGER}),
    "partners.change_contact": frozenset({Role.CHANNEL_MANAGER}),
    "partners.add_contact": frozenset({Role.CHANNEL_MANAGER}),
    "partners.delete_contact": frozenset({Role.CHANNEL_MANAGER}),
    "dealreg.change_dealregistration": frozenset({Role.CHANNEL_MANAGER}),
    "dealreg.decide_dealregistration": frozenset({Role.CHANNEL_MANAGER}),
    "dealreg.decide_extensionrequest": frozenset({Role.CHANNEL_MANAGER}),
}

PERMISSIONS: dict[str, frozenset[str]] = {
    # Portal
    "portal.partner_home": PARTNER_ROLES,
    "portal.staff_home": STAFF_ROLES,
    "people.manage_staff": OPS,
    "people.manage_partner_colleagues": frozenset({Role.PARTNER_ADMIN}),
    # Django admin: entry, then per model
    "admin.access": STAFF_ROLES,
    "partners.view_partner": STAFF_ROLES,
    "partners.add_partner": OPS,
    "partners.change_partner": frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER}),
    "partners.delete_partner": OPS,
    "partners.import_partner": OPS,
    "partners.export_partner": frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.EXECUTIVE}),
    "partners.view_contact": STAFF_ROLES,
    "partners.add_contact": frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER}),
    "partners.change_contact": frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER}),
    "partners.delete_contact": frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER}),
    "partners.view_tier": STAFF_ROLES,
    "partners.add_tier": OPS,
    "partners.change_tier": OPS,
    "partners.delete_tier": OPS,
    "partners.view_region": STAFF_ROLES,
    "partners.add_region": OPS,
    "partners.change_region": OPS,
    "partners.delete_region": OPS,
    "tenancy.view_membership": OPS,
    "tenancy.change_membership": OPS,
    "tenancy.view_invitation": OPS,
    "tenancy.add_invitation": OPS,
    "tenancy.delete_invitation": OPS,
    "tenancy.view_auditentry": frozenset({Role.OPS_ADMIN, Role.EXECUTIVE}),
    "notifications.view": ALL_ROLES,
    # Deal registration: partners in the portal, staff in the admin.
    "portal.dealreg": PARTNER_ROLES,
    "dealreg.view_dealregistration": STAFF_ROLES,
    "dealreg.change_dealregistration": frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER}),
    "dealreg.decide_dealregistration": frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER}),
    "dealreg.reassign_dealregistration": OPS,
    "dealreg.export_dealregistration": frozenset(
        {Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.EXECUTIVE}
    ),
    "dealreg.view_extensionrequest": STAFF_ROLES,
    "dealreg.decide_extensionrequest": frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER}),
    "dealreg.view_directopportunity": frozenset(
        {Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.EXECUTIVE}
    ),
    "dealreg.add_directopportunity": OPS,
    "dealreg.change_directopportunity": OPS,
    "dealreg.delete_directopportunity": OPS,
    "dealreg.import_directopportunity": OPS,
    **{
        f"dealreg.{action}_{model}": (STAFF_ROLES if action == "view" else OPS)
        for model in (
            "productline",
            "routingrule",
            "dealregsettings",
            "closureday",
            "tierprotection",
            "customfield",
        )
        for action in ("view", "add", "change", "delete")
    },
    # Incentives: ops configure plans, finance owns money (rates, payouts,
    # disputes, adjustments), executives read; partner admins see their
    # organisation's statements and dispute lines in the portal.
    "portal.incentives": frozenset({Role.PARTNER_ADMIN}),
    **{
        f"incentives.{action}_{model}": (FINANCE_READERS if action == "view" else OPS)
        for model in ("plan", "planversion", "bracket")
        for action in ("view", "add", "change", "delete")
    },
    "incentives.publish_planversion": OPS,
    "incentives.preview_planversion": frozenset({Role.OPS_ADMIN, Role.FINANCE}),
    **{
        f"incentives.{action}_exchangerate": (
            FINANCE_READERS if action == "view" else frozenset({Role.OPS_ADMIN, Role.FINANCE})
        )
        for action in ("view", "add", "change", "delete")
    },
    "incentives.view_incentivesettings": frozenset({Role.OPS_ADMIN, Role.FINANCE}),
    "incentives.change_incentivesettings": frozenset({Role.OPS_ADMIN, Role.FINANCE}),
    "incentives.view_ledgerentry": FINANCE_READERS,
    "incentives.add_ledgerentry": FINANCE,
    "incentives.export_ledgerentry": FINANCE_READERS,
    "incentives.view_dealaccrualstate": frozenset({Role.OPS_ADMIN, Role.FINANCE}),
    "incentives.view_statement": FINANCE_READERS,
    "incentives.export_statement": FINANCE_READERS,
    "incentives.view_payoutrun": frozenset({Role.FINANCE, Role.EXECUTIVE}),
    "incentives.add_payoutrun": FINANCE,
    "incentives.change_payoutrun": FINANCE,
    "incentives.approve_payoutrun": FINANCE,
    "incentives.export_payoutrun": FINANCE,
    "incentives.view_dispute": FINANCE_READERS,
    "incentives.change_dispute": FINANCE,
    "tenancy.view_tenant": OPS,
    "tenancy.change_tenant": OPS,
}

# Which roles a person holding a role may hand out through an invitation.
INVITABLE_ROLES: dict[str, frozenset[str]] = {
    Role.OPS_ADMIN: ALL_ROLES,
    Role.PARTNER_ADMIN: PARTNER_ROLES,
}


def role_has_perm(role: str, perm: str) -> bool:
    return role in PERMISSIONS.get(perm, frozenset())


def is_object_scoped(role: str, perm: str) -> bool:
    return role in OBJECT_SCOPED.get(perm, frozenset())
