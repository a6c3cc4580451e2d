"""Reporting's declaration: the dashboards (executive, channel manager,
partner), partner health and at-risk flags, the digests."""

from prm.tenancy.declarations import PRMApp
from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES, Role

APP = PRMApp(
    label="reporting",
    permissions={
        "reporting.view_executive": {Role.EXECUTIVE, Role.OPS_ADMIN, Role.FINANCE},
        "reporting.view_channel": {Role.CHANNEL_MANAGER, Role.OPS_ADMIN, Role.EXECUTIVE},
        "reporting.view_partner": PARTNER_ROLES,
        "reporting.view_health": STAFF_ROLES,
        "reporting.change_healthsettings": {Role.OPS_ADMIN},
    },
    demo="reporting.demo.step",
    demo_after=("partners", "dealreg", "incentives"),
)
