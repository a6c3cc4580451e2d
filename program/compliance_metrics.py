"""Compliance's metric for reporting: partners out of compliance
(``shared/METRICS.md``), computed from the reviews directly (one query).

A partner is out of compliance on a day when a review of it was due before
that day and had not been signed off by the day's end (a review signed off
later still counts for the days it was late). The figure is taken at the
period's end; the filters apply to the partners as they are now
(``partners.metrics.partner_q``). It drills into the reviews' admin list
(the overdue reviews it counts)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from partners.metrics import partner_q
from prm.tenancy.declarations import Filters, Good, Metric, Period, Unit
from prm.tenancy.models import Tenant

from .models import ComplianceReview

PERMS = ("program.view_compliancereview",)
REVIEWS = "tenant_admin:program_compliancereview_changelist"


def late_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[ComplianceReview]:
    """Reviews overdue at the period's end: due before its last day and not
    signed off by the end of it."""
    _, after = Period(period.end, period.end).bounds(tenant)
    return ComplianceReview.objects.filter(
        partner_q(filters, "partner__"),
        Q(signed_off_at__isnull=True) | Q(signed_off_at__gte=after),
        tenant_id=tenant.pk,
        due_on__lt=period.end,
    )


def out_of_compliance(tenant: Tenant, period: Period, filters: Filters) -> int:
    found = late_rows(tenant, period, filters).aggregate(
        partners=Count("partner_id", distinct=True)
    )
    return int(found["partners"])


METRICS = [
    Metric(
        key="program.out_of_compliance",
        name="Partners out of compliance",
        definition=(
            "Distinct partners with a compliance review due before the period's last day "
            "and not signed off by the end of that day (open, submitted or returned)."
        ),
        unit=Unit.COUNT,
        good=Good.LOW,
        compute=out_of_compliance,
        perms=PERMS,
        rows=late_rows,
        rows_admin=REVIEWS,
    ),
]
