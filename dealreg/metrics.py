"""Deal registration's metrics: partner-sourced pipeline and revenue, and how
the decision process performs (approval, turnaround, SLA, conflicts, wins).

Definitions are those of ``shared/METRICS.md``. Money is in the tenant's
base currency. Deal registration holds no exchange rates (they belong to
incentives, which builds on this app and may not be imported here), so the
money metrics count only amounts recorded in the base currency; their
definitions say so. Instants are compared with the period's bounds in the
tenant's time zone; dates (a won deal's close date) with its days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from partners.metrics import partner_q
from prm.tenancy.businesstime import BusinessCalendar
from prm.tenancy.declarations import (
    Days,
    Filters,
    Good,
    Metric,
    Period,
    Quantile,
    Rate,
    Share,
    Total,
    Unit,
)
from prm.tenancy.figures import money, one_decimal, percent, percentile
from prm.tenancy.models import Tenant

from .models import (
    Conflict,
    DealRegistration,
    DealRegSettings,
    DirectOpportunity,
    RegistrationEvent,
)

Status = DealRegistration.Status
Kind = RegistrationEvent.Kind

VIEW = ("dealreg.view_dealregistration",)
# Shares reveal the vendor's direct pipeline: only for those who may see it.
VIEW_DIRECT = ("dealreg.view_directopportunity",)

BASE_ONLY = (
    " Only amounts in the tenant's base currency count: registrations in other currencies "
    "are left out (deal registration holds no exchange rates)."
)
FILTERS_ON_PARTNERS = (
    " The filters narrow the partner-sourced part only: the direct pipeline has no partner."
)


def registrations(tenant: Tenant, filters: Filters) -> QuerySet[DealRegistration]:
    return DealRegistration.objects.filter(tenant_id=tenant.pk).filter(
        partner_q(filters, "partner__")
    )


def _within(field: str, tenant: Tenant, period: Period) -> Q:
    start, after = period.bounds(tenant)
    return Q(**{f"{field}__gte": start, f"{field}__lt": after})


def _on_days(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lte": period.end})


# --- The rows each figure counts (for a rate, its denominator) ----------------------------


def pipeline_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[DealRegistration]:
    return registrations(tenant, filters).filter(
        status=Status.APPROVED, currency=tenant.base_currency
    )


def revenue_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[DealRegistration]:
    return registrations(tenant, filters).filter(
        _on_days("won_close_date", period), status=Status.WON, won_currency=tenant.base_currency
    )


def submitted_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[DealRegistration]:
    return registrations(tenant, filters).filter(_within("submitted_at", tenant, period))


def decided_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[DealRegistration]:
    return registrations(tenant, filters).filter(_within("decided_at", tenant, period))


def measured_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[DealRegistration]:
    return decided_rows(tenant, period, filters).filter(submitted_at__isnull=False)


def closed_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[DealRegistration]:
    return registrations(tenant, filters).filter(_closed(tenant, period))


def approved_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[DealRegistration]:
    return decided_rows(tenant, period, filters).filter(APPROVED)


# --- Pipeline and revenue -------------------------------------------------------------------


def _partner_pipeline(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    rows = pipeline_rows(tenant, period, filters)
    return money(rows.aggregate(total=Sum("estimated_value"))["total"])


def _direct_pipeline(tenant: Tenant) -> Decimal:
    total = DirectOpportunity.objects.filter(
        tenant_id=tenant.pk,
        stage__in=DirectOpportunity.OPEN_STAGES,
        currency=tenant.base_currency,
    ).aggregate(total=Sum("amount"))["total"]
    return money(total)


def partner_sourced_pipeline(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    return _partner_pipeline(tenant, period, filters)


def channel_pipeline_share(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    partner = _partner_pipeline(tenant, period, filters)
    return percent(partner, partner + _direct_pipeline(tenant))


def _partner_revenue(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    rows = revenue_rows(tenant, period, filters)
    return money(rows.aggregate(total=Sum("won_amount"))["total"])


def partner_sourced_revenue(tenant: Tenant, period: Period, filters: Filters) -> Decimal:
    return _partner_revenue(tenant, period, filters)


def channel_revenue_contribution(
    tenant: Tenant, period: Period, filters: Filters
) -> Decimal | None:
    partner = _partner_revenue(tenant, period, filters)
    direct = DirectOpportunity.objects.filter(
        _on_days("close_date", period),
        tenant_id=tenant.pk,
        stage=DirectOpportunity.Stage.CLOSED_WON,
        currency=tenant.base_currency,
    ).aggregate(total=Sum("amount"))["total"]
    return percent(partner, partner + money(direct))


# --- Volume and decisions ---------------------------------------------------------------------


def submitted(tenant: Tenant, period: Period, filters: Filters) -> int:
    return submitted_rows(tenant, period, filters).count()


# A decided registration that was not rejected was approved, whatever
# happened to it since (won, lost, expired, withdrawn, reversed).
APPROVED = ~Q(status=Status.REJECTED)


def approval_rate(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    counts = decided_rows(tenant, period, filters).aggregate(
        approved=Count("pk", filter=APPROVED), decided=Count("pk")
    )
    return percent(counts["approved"], counts["decided"])


def sla_compliance(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    counts = decided_rows(tenant, period, filters).aggregate(
        met=Count("pk", filter=Q(sla_met=True)), decided=Count("pk")
    )
    return percent(counts["met"], counts["decided"])


def _calendar(tenant: Tenant) -> BusinessCalendar:
    """The tenant's business calendar, without creating its settings row
    (a metric only reads)."""
    settings_row = DealRegSettings.objects.filter(tenant_id=tenant.pk).first()
    if settings_row is None:
        settings_row = DealRegSettings(tenant=tenant)
    settings_row.tenant = tenant
    return settings_row.calendar()


def turnaround(tenant: Tenant, rows: QuerySet[DealRegistration]) -> list[tuple[Any, datetime, int]]:
    """(partner id, decided at, business microseconds from submission to
    decision) of each of ``rows`` (decided registrations), less the business
    time it waited on the partner (from each request for more information to
    the partner's answer, or to the decision if it came first, as the
    timeline records them). One query for the registrations with their
    requests and answers, two for the calendar; the time is measured on the
    tenant's calendar, which only Python knows (public holidays)."""
    asked = Q(events__kind__in=[Kind.INFO_REQUESTED, Kind.INFO_PROVIDED])
    in_order = ("events__created_at", "events__id")
    found = list(
        rows.filter(submitted_at__isnull=False, decided_at__isnull=False)
        .annotate(
            kinds=ArrayAgg("events__kind", filter=asked, order_by=in_order),
            moments=ArrayAgg("events__created_at", filter=asked, order_by=in_order),
        )
        .values_list("partner_id", "submitted_at", "decided_at", "kinds", "moments")
    )
    if not found:
        return []
    calendar = _calendar(tenant)
    measured = []
    for partner_id, submitted_at, decided_at, kinds, moments in found:
        assert submitted_at is not None and decided_at is not None  # filtered above
        waited = timedelta(0)
        since = None
        for kind, at in zip(kinds or [], moments or [], strict=True):
            if kind == Kind.INFO_REQUESTED and since is None:
                since = at
            elif kind == Kind.INFO_PROVIDED and since is not None:
                waited += calendar.between(since, min(at, decided_at))
                since = None
        if since is not None:
            waited += calendar.between(since, decided_at)
        worked = calendar.between(submitted_at, decided_at) - waited
        measured.append((partner_id, decided_at, max(worked, timedelta(0)) // MICROSECOND))
    return measured


MICROSECOND = timedelta(microseconds=1)
MICROSECONDS_PER_HOUR = 3_600_000_000


def turnaround_hours(tenant: Tenant, period: Period, filters: Filters) -> list[Decimal]:
    """Business hours from submission to decision of each registration
    decided in the period (``turnaround``)."""
    rows = measured_rows(tenant, period, filters)
    return [
        Decimal(microseconds) / Decimal(MICROSECONDS_PER_HOUR)
        for _, _, microseconds in turnaround(tenant, rows)
    ]


def turnaround_median(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    return one_decimal(percentile(turnaround_hours(tenant, period, filters), 0.5))


def turnaround_p90(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    return one_decimal(percentile(turnaround_hours(tenant, period, filters), 0.9))


def had_conflict() -> Any:
    """True for a registration that had at least one conflict: one involving
    it is stored, or its conflict check recorded one on its timeline."""
    return (
        Exists(Conflict.objects.filter(registration=OuterRef("pk")))
        | Exists(Conflict.objects.filter(other_registration=OuterRef("pk")))
        | Exists(
            RegistrationEvent.objects.filter(registration=OuterRef("pk"), kind=Kind.CONFLICTS_FOUND)
        )
    )


def conflict_rate(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    counts = submitted_rows(tenant, period, filters).aggregate(
        conflicted=Count("pk", filter=had_conflict()), submitted=Count("pk")
    )
    return percent(counts["conflicted"], counts["submitted"])


# --- Outcomes -------------------------------------------------------------------------------


def _closed(tenant: Tenant, period: Period) -> Q:
    """Won (or won, then reversed) with a close date in the period, or lost
    in it (a lost deal has no close date: the day the loss was recorded)."""
    return Q(_on_days("won_close_date", period), status__in=[Status.WON, Status.REVERSED]) | Q(
        _within("outcome_recorded_at", tenant, period), status=Status.LOST
    )


def win_rate(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    counts = closed_rows(tenant, period, filters).aggregate(
        won=Count("pk", filter=Q(status=Status.WON)), closed=Count("pk")
    )
    return percent(counts["won"], counts["closed"])


def conversion(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    counts = approved_rows(tenant, period, filters).aggregate(
        won=Count("pk", filter=Q(status=Status.WON)), approved=Count("pk")
    )
    return percent(counts["won"], counts["approved"])


REGISTRATIONS = "tenant_admin:dealreg_dealregistration_changelist"


METRICS: list[Metric] = [
    Metric(
        key="dealreg.partner_sourced_pipeline",
        name="Partner-sourced pipeline",
        definition=(
            "Value (base currency) of approved, still-open registrations: approved and not "
            "yet won, lost, expired or withdrawn, at their estimated value. It is the "
            "pipeline as it stands now, whatever the period (registrations keep no history "
            "of their state)." + BASE_ONLY
        ),
        unit=Unit.MONEY,
        good=Good.HIGH,
        compute=partner_sourced_pipeline,
        rollup=Total("open_pipeline", Days.ALL),
        rows=pipeline_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
    Metric(
        key="dealreg.channel_pipeline_share",
        name="Channel-sourced pipeline share",
        definition=(
            "Partner-sourced pipeline ÷ (partner-sourced + the vendor's open direct "
            "pipeline), both as they stand now: direct opportunities in an open stage at "
            "their amount." + BASE_ONLY + FILTERS_ON_PARTNERS
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=channel_pipeline_share,
        rollup=Share("open_pipeline", "direct_open", Days.ALL),
        rows=pipeline_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW_DIRECT,
    ),
    Metric(
        key="dealreg.partner_sourced_revenue",
        name="Partner-sourced revenue",
        definition=(
            "Won amount (base currency) of registrations won in the period: won deals whose "
            "close date falls in the period; a win since reversed (cancelled or refunded) "
            "does not count." + BASE_ONLY
        ),
        unit=Unit.MONEY,
        good=Good.HIGH,
        compute=partner_sourced_revenue,
        rollup=Total("won_revenue"),
        rows=revenue_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
    Metric(
        key="dealreg.channel_revenue_contribution",
        name="Channel revenue contribution",
        definition=(
            "Partner-sourced revenue ÷ (partner-sourced + direct won revenue): direct "
            "opportunities closed won with a close date in the period, at their amount."
            + BASE_ONLY
            + FILTERS_ON_PARTNERS
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=channel_revenue_contribution,
        rollup=Share("won_revenue", "direct_won"),
        rows=revenue_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW_DIRECT,
    ),
    Metric(
        key="dealreg.submitted",
        name="Registrations submitted",
        definition="Deal registrations submitted by partners in the period (drafts not counted).",
        unit=Unit.COUNT,
        good=Good.HIGH,
        compute=submitted,
        rollup=Total("submitted"),
        rows=submitted_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
    Metric(
        key="dealreg.approval_rate",
        name="Approval rate",
        definition=(
            "Registrations approved (by a person or automatically when the SLA passed) ÷ "
            "registrations decided (approved or rejected) in the period."
        ),
        unit=Unit.PERCENT,
        good=Good.NEITHER,
        compute=approval_rate,
        rollup=Rate("approved", "decided"),
        rows=decided_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
    Metric(
        key="dealreg.turnaround_median",
        name="Deal registration turnaround, median",
        definition=(
            "Business hours from submission to approval or rejection, median over the "
            "registrations decided in the period; time waiting on the partner (from a "
            "request for more information to the partner's answer) excluded. Business "
            "hours follow the tenant's deal registration calendar (working days and hours, "
            "public holidays, closure days)."
        ),
        unit=Unit.HOURS,
        good=Good.LOW,
        compute=turnaround_median,
        rollup=Quantile("turnaround", 0.5, MICROSECONDS_PER_HOUR),
        rows=measured_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
    Metric(
        key="dealreg.turnaround_p90",
        name="Deal registration turnaround, 90th percentile",
        definition=(
            "Business hours from submission to approval or rejection, 90th percentile over "
            "the registrations decided in the period; time waiting on the partner (from a "
            "request for more information to the partner's answer) excluded. Business "
            "hours follow the tenant's deal registration calendar (working days and hours, "
            "public holidays, closure days)."
        ),
        unit=Unit.HOURS,
        good=Good.LOW,
        compute=turnaround_p90,
        rollup=Quantile("turnaround", 0.9, MICROSECONDS_PER_HOUR),
        rows=measured_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
    Metric(
        key="dealreg.sla_compliance",
        name="SLA compliance rate",
        definition=(
            "Decided registrations decided within their SLA ÷ all decided in the period. "
            "An automatic approval when the SLA passed is not within it."
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=sla_compliance,
        rollup=Rate("sla_met", "decided"),
        rows=decided_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
    Metric(
        key="dealreg.conflict_rate",
        name="Conflict rate",
        definition=(
            "Registrations that had at least one conflict ÷ registrations submitted, among "
            "those submitted in the period. A registration had a conflict when one involving "
            "it is stored (found on it, or on another registration against it) or its "
            "conflict check recorded one on its timeline."
        ),
        unit=Unit.PERCENT,
        good=Good.NEITHER,
        compute=conflict_rate,
        rollup=Rate("conflicted", "submitted"),
        rows=submitted_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
    Metric(
        key="dealreg.win_rate",
        name="Win rate",
        definition=(
            "Won ÷ (won + lost) among registrations closed in the period: won deals by "
            "their close date, lost deals by the day the loss was recorded (they have no "
            "close date). A win since reversed (cancelled or refunded) counts as closed, "
            "not won."
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=win_rate,
        rollup=Rate("won", "closed"),
        rows=closed_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
    Metric(
        key="dealreg.conversion",
        name="Deal registration conversion",
        definition=(
            "Registrations won ÷ registrations approved, for the cohort approved in the "
            "period (won as they stand now; a reversed win is not won)."
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=conversion,
        rollup=Rate("approved_won", "approved"),
        rows=approved_rows,
        rows_admin=REGISTRATIONS,
        perms=VIEW,
    ),
]
