"""Reporting's declaration: the dashboards (executive, channel manager,
partner), partner health and at-risk flags, the digests."""

from celery.schedules import crontab

from prm.tenancy.declarations import NotificationKind, PartnerPanel, PRMApp
from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES, Role

from .health.episodes import AT_RISK_KIND
from .health.panel import health_panel
from .health.rules import AT_RISK_RULES

APP = PRMApp(
    label="reporting",
    permissions={
        "reporting.view_executive": {Role.EXECUTIVE, Role.OPS_ADMIN, Role.FINANCE},
        "reporting.view_channel": {Role.CHANNEL_MANAGER, Role.OPS_ADMIN, Role.EXECUTIVE},
        "reporting.view_partner": PARTNER_ROLES,
        "reporting.view_health": STAFF_ROLES,
        "reporting.change_healthsettings": {Role.OPS_ADMIN},
        # The score's weights and thresholds are open to every staff role to
        # read (a transparent score); the at-risk list is what the
        # dashboards' at-risk figure drills into.
        "reporting.view_healthsettings": STAFF_ROLES,
        "reporting.view_atriskepisode": STAFF_ROLES,
    },
    notification_kinds=(
        NotificationKind(
            AT_RISK_KIND,
            "A partner of mine is flagged at risk",
            {Role.CHANNEL_MANAGER, Role.OPS_ADMIN},
        ),
    ),
    at_risk_rules=AT_RISK_RULES,
    partner_panels=(
        PartnerPanel(
            key="reporting.health",
            title="Health",
            template="reporting/health_panel.html",
            context=health_panel,
            perms=("reporting.view_health",),
            css=("admin/health.css",),
            order=10,
        ),
    ),
    url_matrix="reporting.url_matrix",
    beat={
        # Every hour at :30, the tenants whose local time is 02:xx score
        # yesterday (their night, whatever their time zone).
        "reporting-health": {
            "task": "reporting.tasks.dispatch_health",
            "schedule": crontab(minute=30),
        },
    },
)
