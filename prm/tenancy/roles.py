"""The roles a member of a tenant can hold.

What each role may do is declared by the apps, each in its ``declare.py``
(``PRMApp.permissions``), and assembled by ``prm.tenancy.registry``;
``manage.py permissions`` prints the whole role x permission table. Views
check permissions through ``prm.tenancy.access`` (decorators and mixins), the
Django admin through ``prm.tenancy.admin.TenantModelAdmin``; neither keeps a
list of its own. A permission no app declares is refused to everyone.

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

# Role sets the apps' declarations share.
OPS = frozenset({Role.OPS_ADMIN})
FINANCE = frozenset({Role.FINANCE})
# Who may read incentive configuration and money figures in the admin.
FINANCE_READERS = frozenset({Role.OPS_ADMIN, Role.FINANCE, Role.EXECUTIVE})

# Which roles a person holding a role may hand out through an invitation.
INVITABLE_ROLES: dict[str, frozenset[str]] = {
    Role.OPS_ADMIN: ALL_ROLES,
    Role.PARTNER_ADMIN: PARTNER_ROLES,
}
