"""Partner statements: what a partner was owed and paid, period by period.

An entry is booked in the statement period of the day it was written
(``LedgerEntry.statement_start``, set by ``ledger.write``), so a period that
has ended never changes. A statement is the partner's balance before the
period (opening), the period's entries summed per kind (accruals,
adjustments, clawbacks, MDF reimbursements, payouts) and the balance after
it (closing). Totals
are sums of ``amount_base`` (the tenant's base currency) only; each line
shows its own amount and currency besides.

The figures come from one aggregate query over the partner's entries (on the
``ledger_statement`` index) and the lines are paged, so a statement of ten
thousand lines costs the same few queries as one of ten.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from partners.models import Partner
from prm.tenancy.models import Tenant
from prm.webhooks.events import emit_many

from . import periods
from .ledger import IncentiveError
from .models import Dispute, IncentiveSettings, LedgerEntry, Statement
from .money import ZERO
from .serializers import StatementSerializer

Kind = LedgerEntry.Kind
OPEN_DISPUTE = (Dispute.Status.OPEN, Dispute.Status.ANSWERED)


@dataclass(frozen=True)
class StatementView:
    """One partner's statement for one period, in the base currency."""

    partner: Partner
    period: str
    start: date
    end: date
    label: str
    currency: str
    opening: Decimal
    accruals: Decimal
    adjustments: Decimal
    clawbacks: Decimal
    reimbursements: Decimal
    payouts: Decimal
    closing: Decimal
    line_count: int
    issued: Statement | None
    ended: bool

    @property
    def key(self) -> str:
        """The period as URLs carry it (its first day)."""
        return self.start.isoformat()


@dataclass(frozen=True)
class PeriodSummary:
    """A row of the statements list."""

    start: date
    end: date
    label: str
    opening: Decimal
    closing: Decimal
    line_count: int
    issued: bool
    ended: bool

    @property
    def key(self) -> str:
        return self.start.isoformat()


def statement_period(tenant: Tenant) -> str:
    return IncentiveSettings.for_tenant(tenant).statement_period


def previous_start(start: date, period: str) -> date:
    return periods.period_start(start - timedelta(days=1), period)


def current_start(tenant: Tenant, period: str, now: datetime | None = None) -> date:
    return periods.period_start(tenant.local_today(now), period)


def booking_starts(start: date, end: date) -> list[date]:
    """Every value ``statement_start`` can take inside [start, end]: periods
    begin on the first of a month, so the first of each month in it. For a
    monthly statement that is one value, and the lines come off the index in
    order."""
    found, day = [], start
    while day <= end:
        found.append(day)
        day = periods.next_start(day, periods.Period.MONTH)
    return found


def parse_period(
    tenant: Tenant,
    text: str | None,
    *,
    period: str | None = None,
    now: datetime | None = None,
) -> date:
    """The statement period named by ``text`` (its first day, 2026-10-01, or
    a month, 2026-10); the current one when empty. ``IncentiveError`` if it
    names no period of this tenant's statements or one in the future."""
    period = period or statement_period(tenant)
    current = current_start(tenant, period, now)
    if not text:
        return current
    try:
        day = date.fromisoformat(text if len(text) > 7 else f"{text}-01")
    except ValueError as exc:
        raise IncentiveError(f"“{text[:20]}” is not a statement period.") from exc
    if periods.period_start(day, period) != day:
        raise IncentiveError(f"{day:%Y-%m-%d} is not the first day of a statement period.")
    if day > current:
        raise IncentiveError(f"The statement period of {day:%B %Y} has not begun.")
    return day


def _sums(queryset: QuerySet[LedgerEntry], start: date) -> dict[str, Any]:
    in_period = Q(statement_start__gte=start)
    return queryset.aggregate(
        opening=Sum("amount_base", filter=Q(statement_start__lt=start), default=ZERO),
        accruals=Sum("amount_base", filter=in_period & Q(kind=Kind.ACCRUAL), default=ZERO),
        adjustments=Sum("amount_base", filter=in_period & Q(kind=Kind.ADJUSTMENT), default=ZERO),
        clawbacks=Sum("amount_base", filter=in_period & Q(kind=Kind.CLAWBACK), default=ZERO),
        reimbursements=Sum(
            "amount_base", filter=in_period & Q(kind=Kind.REIMBURSEMENT), default=ZERO
        ),
        payouts=Sum("amount_base", filter=in_period & Q(kind=Kind.PAYOUT), default=ZERO),
        line_count=Count("pk", filter=in_period),
    )


def statement(
    partner: Partner,
    period_start: date,
    *,
    period: str | None = None,
    now: datetime | None = None,
) -> StatementView:
    """The partner's statement for the period beginning ``period_start`` (of
    the tenant's statement period unless ``period`` is given): one aggregate
    query for the figures, one for the issued snapshot."""
    tenant = partner.tenant
    issued = Statement.objects.filter(partner=partner, period_start=period_start).first()
    if period is None:
        period = issued.period if issued is not None else statement_period(tenant)
    end = periods.period_end(period_start, period)
    sums = _sums(
        LedgerEntry.objects.filter(partner=partner, statement_start__lte=end), period_start
    )
    closing = (
        sums["opening"]
        + sums["accruals"]
        + sums["adjustments"]
        + sums["clawbacks"]
        + sums["reimbursements"]
        + sums["payouts"]
    )
    return StatementView(
        partner=partner,
        period=period,
        start=period_start,
        end=end,
        label=periods.label(period_start, period),
        currency=tenant.base_currency,
        opening=sums["opening"],
        accruals=sums["accruals"],
        adjustments=sums["adjustments"],
        clawbacks=sums["clawbacks"],
        reimbursements=sums["reimbursements"],
        payouts=sums["payouts"],
        closing=closing,
        line_count=sums["line_count"],
        issued=issued,
        ended=end < tenant.local_today(now),
    )


def lines(
    partner: Partner, period_start: date, *, period: str | None = None
) -> QuerySet[LedgerEntry]:
    """The entries booked in the period, oldest first, with what a line
    shows (deal, plan version, the payout that settled it, its dispute)."""
    if period is None:
        period = statement_period(partner.tenant)
    end = periods.period_end(period_start, period)
    return (
        LedgerEntry.objects.filter(
            partner=partner, statement_start__in=booking_starts(period_start, end)
        )
        .select_related(
            "registration",
            "plan_version__plan",
            "payout_run",
            "settlement__run",
            "dispute__entry__registration",
            "created_by",
        )
        .order_by("created_at", "id")
    )


def dispute_states(entries: Iterable[LedgerEntry]) -> dict[uuid.UUID, Dispute]:
    """For each of ``entries`` that has been disputed: its latest dispute
    (code, status, is_open), in one query."""
    ids = [e.pk for e in entries]
    latest: dict[uuid.UUID, Dispute] = {}
    if not ids:
        return latest
    for dispute in (
        Dispute.objects.filter(entry_id__in=ids)
        .only("pk", "code", "status", "entry_id", "created_at")
        .order_by("created_at")
    ):
        latest[dispute.entry_id] = dispute
    return latest


def periods_of(partner: Partner, *, now: datetime | None = None) -> list[PeriodSummary]:
    """The periods the partner has a statement for: those with entries or a
    non-zero balance, and the current one; newest first. Two queries."""
    tenant = partner.tenant
    period = statement_period(tenant)
    current = current_start(tenant, period, now)
    totals: dict[date, list[Any]] = {}
    for booked, total, count in (
        LedgerEntry.objects.filter(partner=partner)
        .order_by()
        .values("statement_start")
        .annotate(total=Sum("amount_base"), n=Count("pk"))
        .values_list("statement_start", "total", "n")
    ):
        bucket = totals.setdefault(periods.period_start(booked, period), [ZERO, 0])
        bucket[0] += total
        bucket[1] += count
    issued = set(Statement.objects.filter(partner=partner).values_list("period_start", flat=True))
    today = tenant.local_today(now)
    found = []
    balance = ZERO
    start = min([*totals, current])
    while start <= current:
        total, count = totals.get(start, (ZERO, 0))
        opening, balance = balance, balance + total
        if count or opening or start == current:
            end = periods.period_end(start, period)
            found.append(
                PeriodSummary(
                    start=start,
                    end=end,
                    label=periods.label(start, period),
                    opening=opening,
                    closing=balance,
                    line_count=count,
                    issued=start in issued,
                    ended=end < today,
                )
            )
        start = periods.next_start(start, period)
    found.reverse()
    return found


def issue_statements(tenant: Tenant, period_start: date, *, now: datetime | None = None) -> int:
    """Snapshot the statement of every partner with entries in, or a
    balance at, the period beginning ``period_start``, which must have ended
    (by the tenant's local date). Partners that already have theirs keep it:
    running this again issues only what is missing. Returns how many
    statements were issued."""
    now = now or timezone.now()
    period = statement_period(tenant)
    if periods.period_start(period_start, period) != period_start:
        raise IncentiveError(f"{period_start:%Y-%m-%d} is not the first day of a statement period.")
    end = periods.period_end(period_start, period)
    today = tenant.local_today(now)
    if end >= today:
        raise IncentiveError(
            f"The {periods.label(period_start, period)} statement period has not ended "
            f"(its last day is {end:%Y-%m-%d}); statements are issued after it."
        )
    in_period = Q(statement_start__gte=period_start)
    rows = (
        LedgerEntry.objects.filter(statement_start__lte=end)
        .order_by()
        .values("partner_id")
        .annotate(
            opening=Sum("amount_base", filter=Q(statement_start__lt=period_start), default=ZERO),
            accruals=Sum("amount_base", filter=in_period & Q(kind=Kind.ACCRUAL), default=ZERO),
            adjustments=Sum(
                "amount_base", filter=in_period & Q(kind=Kind.ADJUSTMENT), default=ZERO
            ),
            clawbacks=Sum("amount_base", filter=in_period & Q(kind=Kind.CLAWBACK), default=ZERO),
            reimbursements=Sum(
                "amount_base", filter=in_period & Q(kind=Kind.REIMBURSEMENT), default=ZERO
            ),
            payouts=Sum("amount_base", filter=in_period & Q(kind=Kind.PAYOUT), default=ZERO),
            line_count=Count("pk", filter=in_period),
        )
    )
    with transaction.atomic():
        existing = set(
            Statement.objects.filter(period_start=period_start).values_list("partner_id", flat=True)
        )
        new = []
        for row in rows:
            if row["partner_id"] in existing or not (row["line_count"] or row["opening"]):
                continue
            parts = (
                "opening",
                "accruals",
                "adjustments",
                "clawbacks",
                "reimbursements",
                "payouts",
            )
            new.append(
                Statement(
                    tenant=tenant,
                    partner_id=row["partner_id"],
                    period=period,
                    period_start=period_start,
                    period_end=end,
                    currency=tenant.base_currency,
                    opening=row["opening"],
                    accruals=row["accruals"],
                    adjustments=row["adjustments"],
                    clawbacks=row["clawbacks"],
                    reimbursements=row["reimbursements"],
                    payouts=row["payouts"],
                    closing=sum((row[p] for p in parts), ZERO),
                    line_count=row["line_count"],
                    issued_at=now,
                )
            )
        # A concurrent run's rows win quietly (the unique constraint).
        Statement.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        _announce(tenant, new)
    return len(new)


def _announce(tenant: Tenant, new: list[Statement]) -> None:
    """``statement.issued`` for each statement this call inserted (not those
    a concurrent run had inserted first): once per statement, not per line;
    nothing is read when no endpoint wants the event (``emit_many``)."""
    if not new:
        return
    issued = (
        Statement.objects.filter(pk__in=[s.pk for s in new])
        .select_related("partner")
        .order_by("partner__name", "pk")
    )
    emit_many(
        tenant,
        "statement.issued",
        (StatementSerializer(_with_tenant(found, tenant)).data for found in issued),
    )


def _with_tenant(statement: Statement, tenant: Tenant) -> Statement:
    statement.tenant = tenant
    return statement
