"""Onboarding's metrics: how long partners take to get going, whether plans
finish within their target, how many steps are done on time, how many new
partners become active sellers, and which plans have stalled.

Definitions are those of ``shared/METRICS.md``. Days are calendar days on
the tenant's calendar (its time zone): an instant counts on its local date.

- A partner's *enrollment* is the start of its onboarding plan, or, for a
  partner without a plan, the day it was added to the directory
  (``Partner.created_at``). Its *start* is the day it applied (the approved
  application that created it), else its enrollment: the partner onboarding
  time runs from the start, the time to a first won deal and the activation
  window from the enrollment.
- A partner's first registration is its first submitted one, its first won
  deal the earliest close date of its won registrations (a reversed win does
  not count), its first approval the first decision that was not a
  rejection (as the onboarding plans' "first deal approved" step reads it).
- A plan counts in the period it started (within target), completed (time
  to onboard); a step in the period it was due (milestones); stalled plans
  are counted as they stood at the period's end.

The filters apply to the partners as they are now (``partners.metrics.partner_q``).
Each figure drills to the partner list, one row per partner counted (a
partner has at most one plan); milestones count steps, which no list shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    DateTimeField,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, Greatest, TruncDate

from dealreg.models import DealRegistration
from partners.metrics import partner_q
from partners.models import Partner
from prm.tenancy.declarations import (
    NO_FILTERS,
    Days,
    Filters,
    Good,
    Metric,
    Period,
    Quantile,
    Rate,
    Total,
    Unit,
)
from prm.tenancy.figures import one_decimal, percent, percentile
from prm.tenancy.models import Tenant

from .models import Application, OnboardingSettings, Plan, PlanStep

# Activation: a first won deal (or approval) within this many days of enrollment.
ACTIVATION_DAYS = 90
PERMS = ("onboarding.view_plan", "partners.view_partner")
PARTNERS = "tenant_admin:partners_partner_changelist"

Status = DealRegistration.Status


def zone(tenant: Tenant) -> ZoneInfo:
    return ZoneInfo(tenant.timezone)


def local_day(field: Any, tenant: Tenant) -> TruncDate:
    """An instant's date on the tenant's calendar, in SQL."""
    return TruncDate(field, tzinfo=zone(tenant))


def first_instant(tenant: Tenant, day: date) -> datetime:
    """Midnight starting ``day`` on the tenant's calendar."""
    return Period(day, day).bounds(tenant)[0]


def _on_days(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lte": period.end})


def _of(rows: QuerySet[Any], partner_ids: Sequence[Any] | None, field: str) -> QuerySet[Any]:
    if partner_ids is None:
        return rows
    return rows.filter(**{f"{field}__in": [p for p in partner_ids if p]})


# --- Partners' timelines ---------------------------------------------------------------------


def timelines(
    tenant: Tenant, filters: Filters = NO_FILTERS, partner_ids: Sequence[Any] | None = None
) -> QuerySet[Any]:
    """The partners, each with the local days of its enrollment
    (``enrolled_day``), its start (``start_day``: applied, else enrolled),
    its first registration (``first_submitted_day``), its first approval
    (``first_approved_day``) and its first won deal's close date
    (``first_won``). One query, whatever it is filtered on."""
    registrations = DealRegistration.objects.filter(partner_id=OuterRef("pk"))
    applied = (
        Application.objects.filter(partner_id=OuterRef("pk"), status=Application.Status.APPROVED)
        .order_by("created_at")
        .values("created_at")[:1]
    )
    first_submitted = (
        registrations.filter(submitted_at__isnull=False)
        .order_by("submitted_at")
        .values("submitted_at")[:1]
    )
    first_approved = (
        registrations.filter(decided_at__isnull=False)
        .exclude(status=Status.REJECTED)
        .order_by("decided_at")
        .values("decided_at")[:1]
    )
    first_won = (
        registrations.filter(status=Status.WON, won_close_date__isnull=False)
        .order_by("won_close_date")
        .values("won_close_date")[:1]
    )
    enrolled = Coalesce(F("onboarding_plan__started_at"), F("created_at"))
    started = Coalesce(
        Subquery(applied, output_field=DateTimeField()),
        F("onboarding_plan__started_at"),
        F("created_at"),
    )
    partners = _of(
        Partner.objects.filter(partner_q(filters), tenant_id=tenant.pk), partner_ids, "pk"
    )
    return partners.annotate(
        enrolled_day=local_day(enrolled, tenant),
        start_day=local_day(started, tenant),
        first_submitted_day=local_day(Subquery(first_submitted), tenant),
        first_approved_day=local_day(Subquery(first_approved), tenant),
        first_won=Subquery(first_won),
    )


def first_registration_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Any]:
    """Partners whose first registration was submitted in the period (none
    before their start)."""
    return timelines(tenant, filters).filter(
        _on_days("first_submitted_day", period), first_submitted_day__gte=F("start_day")
    )


def first_won_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Any]:
    """Partners whose first won deal closed in the period (not before their
    enrollment)."""
    return timelines(tenant, filters).filter(
        _on_days("first_won", period), first_won__gte=F("enrolled_day")
    )


def enrolled_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Any]:
    """Partners enrolled in the period (activation's denominator)."""
    return timelines(tenant, filters).filter(_on_days("enrolled_day", period))


def activation_mode(tenant: Tenant) -> str:
    """What activates a partner (``OnboardingSettings.activation``), without
    creating the settings row: a metric only reads."""
    found = (
        OnboardingSettings.objects.filter(tenant_id=tenant.pk)
        .values_list("activation", flat=True)
        .first()
    )
    return found or OnboardingSettings.Activation.WON


def activated(
    mode: str, enrolled: date, first_won: date | None, first_approved: date | None
) -> bool:
    """Whether a partner enrolled on ``enrolled`` was activated within the
    window: its first won deal (or approval) came no later than 90 days
    after (one that came before its enrollment counts: it was active)."""
    found = first_approved if mode == OnboardingSettings.Activation.APPROVED else first_won
    return found is not None and found <= enrolled + timedelta(days=ACTIVATION_DAYS)


def _days(rows: QuerySet[Any], until: str, since: str) -> list[int]:
    return [(end - begin).days for end, begin in rows.values_list(until, since)]


def onboarding_days(tenant: Tenant, period: Period, filters: Filters) -> list[int]:
    return _days(
        first_registration_rows(tenant, period, filters), "first_submitted_day", "start_day"
    )


def first_won_days(tenant: Tenant, period: Period, filters: Filters) -> list[int]:
    return _days(first_won_rows(tenant, period, filters), "first_won", "enrolled_day")


def activation_counts(tenant: Tenant, period: Period, filters: Filters) -> tuple[int, int]:
    """(partners enrolled in the period that were activated, partners enrolled)."""
    mode = activation_mode(tenant)
    rows = enrolled_rows(tenant, period, filters).values_list(
        "enrolled_day", "first_won", "first_approved_day"
    )
    found = [activated(mode, *row) for row in rows]
    return sum(found), len(found)


def activation_rate(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    return percent(*activation_counts(tenant, period, filters))


# --- Plans and their steps -------------------------------------------------------------------


def plans(tenant: Tenant, filters: Filters) -> QuerySet[Plan]:
    return Plan.objects.filter(partner_q(filters, "partner__"), tenant_id=tenant.pk)


def _within(field: str, tenant: Tenant, period: Period) -> Q:
    start, after = period.bounds(tenant)
    return Q(**{f"{field}__gte": start, f"{field}__lt": after})


def completed_plan_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Plan]:
    """Plans completed in the period."""
    return plans(tenant, filters).filter(
        _within("completed_at", tenant, period), status=Plan.Status.COMPLETED
    )


def started_plan_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Plan]:
    """Plans started in the period (cancelled ones too: they were started)."""
    return plans(tenant, filters).filter(_within("started_at", tenant, period))


# A plan completed on or before its target date (annotated with ``completed_day``).
ON_TARGET = Q(status=Plan.Status.COMPLETED, completed_day__lte=F("target_on"))


def plan_days(tenant: Tenant, rows: QuerySet[Plan]) -> list[tuple[Any, date, int]]:
    """(partner id, completed day, days from start to completion) of
    completed plans."""
    where = zone(tenant)
    found = []
    for partner_id, started_at, completed_at in rows.filter(completed_at__isnull=False).values_list(
        "partner_id", "started_at", "completed_at"
    ):
        assert completed_at is not None  # filtered above
        done = completed_at.astimezone(where).date()
        found.append((partner_id, done, (done - started_at.astimezone(where).date()).days))
    return found


def time_to_onboard_days(tenant: Tenant, period: Period, filters: Filters) -> list[int]:
    return [days for _, _, days in plan_days(tenant, completed_plan_rows(tenant, period, filters))]


def within_target(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    counts = (
        started_plan_rows(tenant, period, filters)
        .annotate(completed_day=local_day("completed_at", tenant))
        .aggregate(on_target=Count("pk", filter=ON_TARGET), started=Count("pk"))
    )
    return percent(counts["on_target"], counts["started"])


def due_step_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[PlanStep]:
    """Required steps due in the period, of plans not cancelled."""
    return (
        PlanStep.objects.filter(
            partner_q(filters, "plan__partner__"),
            _on_days("due_on", period),
            tenant_id=tenant.pk,
            required=True,
        )
        .exclude(plan__status=Plan.Status.CANCELLED)
        .annotate(completed_day=local_day("completed_at", tenant))
    )


ON_TIME = Q(completed_day__lte=F("due_on"))


def milestone_completion(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    counts = due_step_rows(tenant, period, filters).aggregate(
        on_time=Count("pk", filter=ON_TIME), due=Count("pk")
    )
    return percent(counts["on_time"], counts["due"])


def stalled_after(tenant: Tenant) -> int:
    """The tenant's ``stalled_after_days`` (its default without a settings row)."""
    found = (
        OnboardingSettings.objects.filter(tenant_id=tenant.pk)
        .values_list("stalled_after_days", flat=True)
        .first()
    )
    return found or OnboardingSettings._meta.get_field("stalled_after_days").default


def active_plans(tenant: Tenant, day: date) -> QuerySet[Any]:
    """Plans in progress at the end of ``day``: started by then, not
    completed by then, not cancelled; each with ``last_progress``, the last
    step completed by then (else its start)."""
    after = first_instant(tenant, day + timedelta(days=1))
    done_by_then = Q(steps__completed_at__lt=after)
    # GREATEST ignores NULLs in PostgreSQL: no step done yet is the start; a
    # step done before the plan started (an agreement accepted) is too.
    return (
        Plan.objects.filter(tenant_id=tenant.pk, started_at__lt=after)
        .exclude(status=Plan.Status.CANCELLED)
        .filter(Q(completed_at__isnull=True) | Q(completed_at__gte=after))
        .annotate(
            last_progress=Greatest(Max("steps__completed_at", filter=done_by_then), F("started_at"))
        )
    )


def stall_changes(
    started: date, progress: Sequence[date], ended: date | None, after_days: int
) -> list[tuple[date, int]]:
    """When a plan started on ``started``, with steps completed on the days
    ``progress``, completed on ``ended`` (None: not yet), became stalled
    (+1) and stopped being stalled (-1): stalled on a day when its last
    progress by then (its start, else its last step) was ``after_days`` or
    more before, and it was still in progress. Their sum up to a day is 1
    exactly when ``stalled_plans`` counts it that day."""
    points = sorted({started, *(day for day in progress if day >= started)})
    changes = []
    for k, point in enumerate(points):
        if ended is not None and point >= ended:
            break
        following = points[k + 1] if k + 1 < len(points) else None
        if ended is not None:
            following = ended if following is None else min(following, ended)
        begins = point + timedelta(days=after_days)
        if following is None or begins < following:
            changes.append((begins, 1))
            if following is not None:
                changes.append((following, -1))
    return changes


def stalled_plans(tenant: Tenant, day: date, filters: Filters = NO_FILTERS) -> QuerySet[Any]:
    """Plans in progress at the end of ``day`` whose last step was completed
    (or which started) ``stalled_after_days`` days or more before it."""
    threshold = first_instant(tenant, day - timedelta(days=stalled_after(tenant) - 1))
    return (
        active_plans(tenant, day)
        .filter(partner_q(filters, "partner__"))
        .filter(last_progress__lt=threshold)
    )


def stalled(tenant: Tenant, period: Period, filters: Filters) -> int:
    return stalled_plans(tenant, period.end, filters).count()


# --- Drilling: the partners counted ----------------------------------------------------------


def _partners_of(
    rows: Callable[[Tenant, Period, Filters], QuerySet[Any]], field: str = "partner_id"
) -> Callable[[Tenant, Period, Filters], QuerySet[Partner]]:
    def partners(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Partner]:
        return Partner.objects.filter(pk__in=rows(tenant, period, filters).values(field))

    return partners


def stalled_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[Partner]:
    return Partner.objects.filter(
        pk__in=stalled_plans(tenant, period.end, filters).values("partner_id")
    )


# --- Medians -------------------------------------------------------------------------------


def _quantile(
    days: Callable[[Tenant, Period, Filters], list[int]], fraction: float
) -> Callable[[Tenant, Period, Filters], Decimal | None]:
    def compute(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
        found = [Decimal(value) for value in days(tenant, period, filters)]
        return one_decimal(percentile(found, fraction))

    return compute


ONBOARDING_TIME = (
    "Days from a partner's application (the approved one that created it; for a partner "
    "added directly, its enrollment: its onboarding plan's start, else the day it was "
    "added) to its first deal registration, {what} over the partners whose first "
    "registration was submitted in the period."
)
TIME_TO_ONBOARD = (
    "Days from an onboarding plan's start to its completion (its last required step "
    "done), {what} over the plans completed in the period."
)
FIRST_WON = (
    "Days from a partner's enrollment (its onboarding plan's start, else the day it was "
    "added) to the close date of its first won deal (a reversed win does not count), "
    "{what} over the partners whose first won deal closed in the period."
)


def _median_pair(
    key: str,
    name: str,
    definition: str,
    days: Callable[[Tenant, Period, Filters], list[int]],
    series: str,
    rows: Callable[[Tenant, Period, Filters], QuerySet[Partner]],
) -> list[Metric]:
    return [
        Metric(
            key=f"{key}_{suffix}",
            name=f"{name}, {label}",
            definition=definition.format(what=what),
            unit=Unit.DAYS,
            good=Good.LOW,
            compute=_quantile(days, fraction),
            rollup=Quantile(series, fraction, exact=True),
            rows=rows,
            rows_admin=PARTNERS,
            perms=PERMS,
        )
        for suffix, label, what, fraction in (
            ("median", "median", "median", 0.5),
            ("p90", "90th percentile", "90th percentile", 0.9),
        )
    ]


METRICS: list[Metric] = [
    *_median_pair(
        "onboarding.partner_onboarding_time",
        "Partner onboarding time",
        ONBOARDING_TIME,
        onboarding_days,
        "onboarding_first_registration",
        first_registration_rows,
    ),
    *_median_pair(
        "onboarding.time_to_onboard",
        "Time to onboard",
        TIME_TO_ONBOARD,
        time_to_onboard_days,
        "onboarding_time_to_onboard",
        _partners_of(completed_plan_rows),
    ),
    Metric(
        key="onboarding.within_target",
        name="% onboarded within target",
        definition=(
            "Onboarding plans completed on or before their target date (90 days from the "
            "start by default, per plan template) ÷ plans started, among the plans started "
            "in the period (as they stand now: a plan of the period still in progress "
            "counts as not yet onboarded; a cancelled one as not onboarded)."
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=within_target,
        rollup=Rate("onboarding_on_target", "onboarding_started"),
        rows=_partners_of(started_plan_rows),
        rows_admin=PARTNERS,
        perms=PERMS,
    ),
    Metric(
        key="onboarding.milestone_completion",
        name="Onboarding milestone completion",
        definition=(
            "Required onboarding plan steps completed by their due date ÷ required steps "
            "due, among the steps due on a day of the period (a step due and not done "
            "yet counts as missed; steps of cancelled plans do not count)."
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=milestone_completion,
        rollup=Rate("onboarding_steps_on_time", "onboarding_steps_due"),
        perms=PERMS,
    ),
    *_median_pair(
        "onboarding.time_to_first_won",
        "Time to first won deal",
        FIRST_WON,
        first_won_days,
        "onboarding_first_won",
        first_won_rows,
    ),
    Metric(
        key="onboarding.activation_rate",
        name="Partner activation rate",
        definition=(
            "Partners with a first won deal (its close date; or, per the tenant's "
            "onboarding settings, a first approved registration) within 90 days of their "
            "enrollment ÷ partners enrolled in the period. Enrollment is the start of the "
            "partner's onboarding plan, else the day it was added to the directory; a "
            "partner enrolled less than 90 days ago may still be activated."
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=activation_rate,
        rollup=Rate("onboarding_activated", "onboarding_enrolled"),
        rows=enrolled_rows,
        rows_admin=PARTNERS,
        perms=PERMS,
    ),
    Metric(
        key="onboarding.stalled_plans",
        name="Stalled onboarding plans",
        definition=(
            "Onboarding plans in progress at the period's end with no step completed in "
            "the onboarding settings' stalled-after days (21 by default) before it, "
            "counting from the plan's start when no step was completed."
        ),
        unit=Unit.COUNT,
        good=Good.LOW,
        compute=stalled,
        rollup=Total("onboarding_stalled_delta", Days.TO_END),
        rows=stalled_rows,
        rows_admin=PARTNERS,
        perms=PERMS,
    ),
]
