"""Reporting's declaration: the dashboards (executive, channel manager,
partner), partner health and at-risk flags, the digests."""

from prm.tenancy.declarations import NotificationKind, PRMApp
from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES, Role

# The digest mails (reporting.digests), each a switch on "My account".
NOTIFICATION_KINDS = (
    NotificationKind(
        "reporting.weekly_digest",
        "The program's week, every Monday (weekly digest)",
        {Role.EXECUTIVE},
    ),
    NotificationKind(
        "reporting.monthly_digest",
        "Our organisation's month, on the 1st (monthly digest)",
        {Role.PARTNER_ADMIN},
    ),
)

APP = PRMApp(
    label="reporting",
    permissions={
        "reporting.view_executive": {Role.EXECUTIVE, Role.OPS_ADMIN, Role.FINANCE},
        "reporting.view_channel": {Role.CHANNEL_MANAGER, Role.OPS_ADMIN, Role.EXECUTIVE},
        "reporting.view_partner": PARTNER_ROLES,
        "reporting.view_health": STAFF_ROLES,
        "reporting.change_healthsettings": {Role.OPS_ADMIN},
    },
    beat={
        # Digests go out at 07:00 in each tenant's time zone (weekly on
        # Mondays, monthly on the 1st): an hourly sweep sends those due.
        "reporting-digests": {"task": "reporting.tasks.send_due_digests", "schedule": 3600.0},
    },
    notification_kinds=NOTIFICATION_KINDS,
)
