"""Reporting's own metric (``shared/METRICS.md``): at-risk partners, from
the at-risk episodes the nightly health run keeps. Drills to the at-risk
list (``AtRiskEpisodeAdmin``, with ``MetricRowsFilter``)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from partners.metrics import partner_q
from prm.tenancy.declarations import Filters, Good, Metric, Period, Unit
from prm.tenancy.models import Tenant

from ..models import AtRiskEpisode

AT_RISK_LIST = "tenant_admin:reporting_atriskepisode_changelist"


def at_risk_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[AtRiskEpisode]:
    """The episodes open on the period's last day: opened by then and not
    closed by then (an episode closes on the first day no rule fires). At
    most one per partner."""
    return AtRiskEpisode.objects.filter(
        Q(closed_on__isnull=True) | Q(closed_on__gt=period.end),
        partner_q(filters, "partner__"),
        tenant_id=tenant.pk,
        opened_on__lte=period.end,
    )


def at_risk_partners(tenant: Tenant, period: Period, filters: Filters) -> int:
    return at_risk_rows(tenant, period, filters).count()


METRICS: list[Metric] = [
    Metric(
        key="reporting.at_risk_partners",
        name="At-risk partners",
        definition=(
            "Partners flagged by the at-risk rules on the period's last day (score fell, no "
            "registration, pipeline down: thresholds in the health score settings), each "
            "with its reasons. Flags are set by the nightly health run; the filters apply "
            "to the partners as they are now."
        ),
        unit=Unit.COUNT,
        good=Good.LOW,
        compute=at_risk_partners,
        rows=at_risk_rows,
        rows_admin=AT_RISK_LIST,
        perms=("reporting.view_atriskepisode",),
    )
]
