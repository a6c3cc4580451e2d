"""Reporting's declaration: the dashboards (executive, channel manager,
partner), partner health and at-risk flags, the digests, and the beat
entries keeping the rollups fresh and reconciled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery.schedules import crontab
from django.db.models import Count as Tally
from django.db.models import Q
from django.urls import reverse

from prm.tenancy.declarations import (
    Action,
    Card,
    Count,
    NavEntry,
    NotificationKind,
    PartnerPanel,
    PRMApp,
)
from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES, Role
from prm.tenancy.text import plural

from .health.episodes import AT_RISK_KIND
from .health.metrics import AT_RISK_LIST, METRICS
from .health.panel import health_panel
from .health.rules import AT_RISK_RULES
from .models import AtRiskEpisode

if TYPE_CHECKING:
    from prm.tenancy.models import Membership


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

HOME_FIGURES = (
    "dealreg.partner_sourced_revenue",
    "dealreg.partner_sourced_pipeline",
    "dealreg.sla_compliance",
)


def program_counts(membership: Membership) -> list[Count]:
    """The quarter's headline figures on an executive's home card."""
    from prm.tenancy.declarations import NO_FILTERS

    from .dashboards.common import tile
    from .figures import headline
    from .periods import DEFAULT_PRESET, resolve

    tenant = membership.tenant
    period = resolve(tenant, DEFAULT_PRESET, today=tenant.local_today())
    figures = headline(
        tenant,
        period,
        NO_FILTERS,
        keys=HOME_FIGURES,
        membership=membership,
        trend=False,
        links=False,
    )
    url = reverse("reporting:executive")
    counts = []
    for figure in figures:
        shown = tile(figure, tenant.base_currency)
        change = f" ({shown.change} on the quarter before)" if shown.change else ""
        counts.append(Count(f"{figure.metric.name}: {shown.value}{change}", url))
    return counts


def at_risk_counts(membership: Membership) -> list[Count]:
    """Partners flagged at risk now: a channel manager's own first, then
    the program's (one query)."""
    figures = AtRiskEpisode.objects.filter(closed_on__isnull=True).aggregate(
        all=Tally("pk"), mine=Tally("pk", filter=Q(partner__channel_manager=membership.user_id))
    )
    url = reverse(AT_RISK_LIST) + "?state=open"
    counts = []
    if membership.role == Role.CHANNEL_MANAGER and figures["mine"]:
        counts.append(
            Count(
                f"{plural(figures['mine'], 'partner')} of yours at risk",
                f"{url}&manager=me",
                urgent=True,
            )
        )
    if figures["all"]:
        counts.append(Count(f"{plural(figures['all'], 'partner')} at risk in the program", url))
    return counts


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
    nav=(
        NavEntry("reporting:executive", "Dashboard", ("reporting.view_executive",), 50),
        NavEntry(
            "reporting:channel",
            "My partners",
            ("reporting.view_channel",),
            55,
            visible=lambda m: m.role == Role.CHANNEL_MANAGER,
        ),
        NavEntry("reporting:partner", "Our figures", ("reporting.view_partner",), 50),
    ),
    notification_kinds=(
        *NOTIFICATION_KINDS,
        NotificationKind(
            AT_RISK_KIND,
            "A partner of mine is flagged at risk",
            {Role.CHANNEL_MANAGER, Role.OPS_ADMIN},
        ),
    ),
    at_risk_rules=AT_RISK_RULES,
    metrics=METRICS,
    cards=(
        Card(
            key="reporting.program",
            title="This quarter",
            url_name="reporting:executive",
            perms=("reporting.view_executive",),
            description="The program's figures beside the quarter before.",
            counts=program_counts,
            actions=(Action("Open the dashboard", "reporting:executive"),),
            order=5,
        ),
        Card(
            key="reporting.at_risk",
            title="Partners at risk",
            url_name=AT_RISK_LIST,
            perms=("reporting.view_atriskepisode",),
            description="Partners the at-risk rules flag, with the reasons.",
            counts=at_risk_counts,
            empty="No partner is flagged at risk.",
            order=40,
        ),
        Card(
            key="reporting.health_settings",
            title="Partner health score",
            url_name="tenant_admin:reporting_healthsettings_changelist",
            perms=("reporting.change_healthsettings",),
            description="The weight of each part of the score and when a partner is at risk.",
            setup=True,
            order=560,
        ),
    ),
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
    urls="reporting.urls",
    url_prefix="reports/",
    url_matrix="reporting.url_matrix",
    beat={
        "reporting-refresh": {
            "task": "reporting.tasks.dispatch_refreshes",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        "reporting-reconcile": {
            "task": "reporting.tasks.dispatch_reconciliations",
            "schedule": crontab(hour=2, minute=0),
            "options": {"expires": 3600},
        },
        # Every hour at :30, the tenants whose local time is 02:xx score
        # yesterday (their night, whatever their time zone).
        "reporting-health": {
            "task": "reporting.tasks.dispatch_health",
            "schedule": crontab(minute=30),
        },
        # Digests go out at 07:00 in each tenant's time zone (weekly on
        # Mondays, monthly on the 1st): an hourly sweep sends those due.
        "reporting-digests": {"task": "reporting.tasks.send_due_digests", "schedule": 3600.0},
    },
    demo="reporting.demo.step",
    demo_after=("partners", "dealreg", "incentives"),
    api="reporting.api",
)
