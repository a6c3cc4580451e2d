"""Deal registration's parts of the partner health score, and its at-risk
rules (declared in ``dealreg.declare``; reporting combines them).

Every figure is "as of" a day: only what had happened by the end of that
day in the tenant's time zone counts (a registration approved the next
morning does not), so the nightly score, a recomputation and a backfill of
past days agree. Money counts only amounts in the tenant's base currency,
as the deal registration metrics do (this app holds no exchange rates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum

from partners.models import Partner
from prm import format as fmt
from prm.tenancy.declarations import AtRiskRule, HealthComponent, Period, Reading
from prm.tenancy.models import Tenant

from .metrics import APPROVED
from .models import DealRegistration

Status = DealRegistration.Status

PIPELINE_DAYS = 90
RECENCY_DAYS = 90
WIN_RATE_DAYS = 365
THOUSANDTH = Decimal("0.001")


def share(value: Decimal | int, whole: Decimal | int) -> Decimal:
    """``value`` ÷ ``whole``, clipped to 0..1, to three decimals."""
    ratio = Decimal(value) / Decimal(whole)
    return min(Decimal(1), max(Decimal(0), ratio)).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


def _end(tenant: Tenant, day: date) -> Any:
    """The first instant after ``day`` in the tenant's time zone."""
    return Period(day, day).bounds(tenant)[1]


# --- Pipeline ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pipeline:
    """Approved registration value (base currency) of the ``days`` days up
    to a day, and of the same number of days before them."""

    current: Decimal
    previous: Decimal


def approved_pipeline(
    tenant: Tenant, day: date, partner_ids: Any, days: int = PIPELINE_DAYS
) -> dict[Any, Pipeline]:
    """Per partner: the value of the registrations approved (decided and not
    rejected: approved then, whatever became of them since) in the ``days``
    days up to ``day`` and in the ``days`` before those. One query."""
    current = Period(day - timedelta(days=days - 1), day)
    previous = Period(current.start - timedelta(days=days), current.start - timedelta(days=1))
    start, _ = previous.bounds(tenant)
    middle, after = current.bounds(tenant)
    rows = (
        DealRegistration.objects.filter(
            APPROVED,
            tenant_id=tenant.pk,
            partner_id__in=partner_ids,
            currency=tenant.base_currency,
            decided_at__gte=start,
            decided_at__lt=after,
        )
        .values("partner_id")
        .annotate(
            current=Sum("estimated_value", filter=Q(decided_at__gte=middle)),
            previous=Sum("estimated_value", filter=Q(decided_at__lt=middle)),
        )
    )
    return {
        row["partner_id"]: Pipeline(row["current"] or Decimal(0), row["previous"] or Decimal(0))
        for row in rows
    }


def _trend(pipe: Pipeline, money: str) -> Reading | None:
    """The reading of one partner's pipeline (None: no data)."""
    now, before = fmt.money(pipe.current, money), fmt.money(pipe.previous, money)
    if pipe.previous == 0 and pipe.current == 0:
        return None
    if pipe.previous == 0:
        return Reading(Decimal(1), f"{now} approved in the last 90 days, none in the 90 before")
    return Reading(
        share(pipe.current, pipe.previous),
        f"{now} approved in the last 90 days against {before} in the 90 before",
    )


NO_PIPELINE = Reading(None, "No registration approved in the last 180 days")


def pipeline_trend(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, Reading]:
    """1 when the approved value of the last 90 days held or grew against
    the 90 days before, falling in proportion to 0 when it vanished: the
    ratio current ÷ previous, capped at 1. New pipeline after none is 1; no
    approved registration in the 180 days is no data."""
    found: dict[Any, Reading] = dict.fromkeys(partner_ids, NO_PIPELINE)
    for partner_id, pipe in approved_pipeline(tenant, day, partner_ids).items():
        found[partner_id] = _trend(pipe, tenant.base_currency) or NO_PIPELINE
    return found


def pipeline_trend_days(
    tenant: Tenant, days: Sequence[date], partner_ids: Any
) -> dict[date, dict[Any, Reading]]:
    """``pipeline_trend`` for many days at once (a backfill): one query for
    the approvals of the whole span, then, with pandas, each partner's
    approved value per day of the tenant's calendar, summed over rolling
    90-day windows (the current period) and the same sums 90 days earlier
    (the previous one). Amounts are summed in whole cents, exactly."""
    import pandas as pd  # type: ignore[import-untyped]  # a heavy import, for backfills only

    first, last = min(days), max(days)
    span = Period(first - timedelta(days=2 * PIPELINE_DAYS - 1), last)
    start, after = span.bounds(tenant)
    rows = DealRegistration.objects.filter(
        APPROVED,
        tenant_id=tenant.pk,
        partner_id__in=partner_ids,
        currency=tenant.base_currency,
        decided_at__gte=start,
        decided_at__lt=after,
    ).values_list("partner_id", "decided_at", "estimated_value")
    zone = tenant.tzinfo
    found_rows = []
    for partner_id, decided_at, value in rows:
        assert decided_at is not None  # filtered on it
        found_rows.append((partner_id, decided_at.astimezone(zone).date(), int(value * 100)))
    approvals = pd.DataFrame(found_rows, columns=["partner", "day", "cents"])
    found: dict[date, dict[Any, Reading]] = {
        day: dict.fromkeys(partner_ids, NO_PIPELINE) for day in days
    }
    if approvals.empty:
        return found
    calendar = pd.date_range(span.start, span.end, freq="D")
    daily = (
        approvals.assign(day=pd.to_datetime(approvals["day"]))
        .pivot_table(index="day", columns="partner", values="cents", aggfunc="sum")
        .reindex(calendar)
        .fillna(0)
        .astype("int64")
    )
    current = daily.rolling(PIPELINE_DAYS, min_periods=1).sum().astype("int64")
    previous = current.shift(PIPELINE_DAYS, fill_value=0)
    cent = Decimal("0.01")
    for day in days:
        now, before = current.loc[pd.Timestamp(day)], previous.loc[pd.Timestamp(day)]
        for partner_id in daily.columns:
            pipe = Pipeline(int(now[partner_id]) * cent, int(before[partner_id]) * cent)
            found[day][partner_id] = _trend(pipe, tenant.base_currency) or NO_PIPELINE
    return found


# --- Registrations -------------------------------------------------------------------------


def last_submitted(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, date]:
    """Per partner: the day (tenant's calendar) of its last registration
    submitted by the end of ``day``. One query."""
    rows = (
        DealRegistration.objects.filter(
            tenant_id=tenant.pk,
            partner_id__in=partner_ids,
            submitted_at__lt=_end(tenant, day),
        )
        .values("partner_id")
        .annotate(last=Max("submitted_at"))
    )
    return {row["partner_id"]: tenant.local_today(row["last"]) for row in rows}


def registration_recency(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, Reading]:
    """1 for a registration submitted that day, falling evenly to 0 at 90
    days or more since the last one (or none ever)."""
    last = last_submitted(tenant, day, partner_ids)
    found: dict[Any, Reading] = {}
    for partner_id in partner_ids:
        when = last.get(partner_id)
        if when is None:
            found[partner_id] = Reading(Decimal(0), "No registration submitted yet")
            continue
        days = (day - when).days
        value = share(max(RECENCY_DAYS - days, 0), RECENCY_DAYS)
        found[partner_id] = Reading(
            value, f"Last registration submitted {fmt.plural(days, 'day')} ago"
        )
    return found


def win_rate(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, Reading]:
    """Won ÷ (won + lost) among the partner's deals closed in the 365 days
    up to the day, as the win rate metric counts them (won by close date, a
    reversed win closed but not won, lost by the day the loss was recorded),
    counting only outcomes recorded by the day's end. No closed deal: no
    data."""
    window = Period(day - timedelta(days=WIN_RATE_DAYS - 1), day)
    start, after = window.bounds(tenant)
    closed = Q(
        status__in=[Status.WON, Status.REVERSED],
        won_close_date__gte=window.start,
        won_close_date__lte=window.end,
    ) | Q(status=Status.LOST, outcome_recorded_at__gte=start)
    rows = (
        DealRegistration.objects.filter(
            closed,
            tenant_id=tenant.pk,
            partner_id__in=partner_ids,
            outcome_recorded_at__lt=after,
        )
        .values("partner_id")
        .annotate(won=Count("pk", filter=Q(status=Status.WON)), closed=Count("pk"))
    )
    found = dict.fromkeys(partner_ids, Reading(None, "No deal closed in the last 365 days"))
    for row in rows:
        found[row["partner_id"]] = Reading(
            share(row["won"], row["closed"]),
            f"{row['won']} won of {fmt.plural(row['closed'], 'deal')} closed in the last 365 days",
        )
    return found


# --- At-risk rules -------------------------------------------------------------------------


def no_registration(
    tenant: Tenant, day: date, partner_ids: Any, thresholds: Mapping[str, int]
) -> dict[Any, str]:
    """Flags a partner whose last registration was submitted
    ``no_registration_days`` or more days before ``day``; one that never
    registered once it has been in the directory that long."""
    limit = thresholds["no_registration_days"]
    last = last_submitted(tenant, day, partner_ids)
    joined = dict(
        Partner.objects.filter(tenant_id=tenant.pk, pk__in=partner_ids).values_list(
            "pk", "created_at"
        )
    )
    found: dict[Any, str] = {}
    for partner_id, created_at in joined.items():
        when = last.get(partner_id)
        if when is not None:
            days = (day - when).days
            if days >= limit:
                found[partner_id] = f"No registration in {fmt.plural(days, 'day')}"
            continue
        days = (day - tenant.local_today(created_at)).days
        if days >= limit:
            found[partner_id] = f"No registration since joining, {fmt.plural(days, 'day')} ago"
    return found


def pipeline_drop(
    tenant: Tenant, day: date, partner_ids: Any, thresholds: Mapping[str, int]
) -> dict[Any, str]:
    """Flags a partner whose approved registration value of the last
    ``pipeline_period_days`` fell by ``pipeline_drop_percent`` or more
    against the period of the same length before."""
    days = thresholds["pipeline_period_days"]
    limit = Decimal(thresholds["pipeline_drop_percent"])
    money = tenant.base_currency
    found: dict[Any, str] = {}
    for partner_id, pipe in approved_pipeline(tenant, day, partner_ids, days).items():
        if pipe.previous <= 0:
            continue
        drop = (pipe.previous - pipe.current) * 100 / pipe.previous
        if drop >= limit:
            found[partner_id] = (
                f"Approved pipeline down {fmt.percent(drop, 0)}: "
                f"{fmt.money(pipe.current, money)} in the last {days} days against "
                f"{fmt.money(pipe.previous, money)} in the {days} before"
            )
    return found


HEALTH_COMPONENTS = (
    HealthComponent(
        key="dealreg.pipeline_trend",
        name="Pipeline trend",
        description=(
            "Value of the registrations approved in the last 90 days against the 90 days "
            "before: full marks when it held or grew, in proportion when it fell, zero when "
            "it vanished. No approved registration in 180 days: no data."
        ),
        default_weight=25,
        compute=pipeline_trend,
        compute_days=pipeline_trend_days,
    ),
    HealthComponent(
        key="dealreg.registration_recency",
        name="Registration recency",
        description=(
            "Days since the partner's last submitted registration: full marks the same day, "
            "falling evenly to zero at 90 days (or none yet)."
        ),
        default_weight=15,
        compute=registration_recency,
    ),
    HealthComponent(
        key="dealreg.win_rate",
        name="Win rate",
        description=(
            "Won ÷ (won + lost) among the partner's deals closed in the last 365 days. "
            "No closed deal: no data."
        ),
        default_weight=20,
        compute=win_rate,
    ),
)

AT_RISK_RULES = (
    AtRiskRule(
        key="dealreg.no_registration",
        name="No registration",
        description="No registration submitted in the set number of days.",
        evaluate=no_registration,
    ),
    AtRiskRule(
        key="dealreg.pipeline_drop",
        name="Pipeline down",
        description=(
            "Approved registration value down by the set percentage against the previous "
            "period of the same length."
        ),
        evaluate=pipeline_drop,
    ),
)
