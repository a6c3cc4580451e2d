"""Period close: once a period has ended, issue the partners' statements
for it and accrue the rebates of rebate plans whose rule period ended.

Beat runs ``dispatch_period_close`` hourly; it queues ``close_periods`` for
every active tenant. Both halves are idempotent (statements are issued once
per partner and period; ``rebates.sync_rebate`` writes only the difference
to what stands), so running them every hour costs little and heals a missed
run: the period that ended most recently and the one before are looked at
each time.
"""

import logging
from datetime import date, datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from dealreg.models import DealRegistration
from partners.models import Partner
from partners.tiers import timelines
from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant
from prm.tenancy.roles import Role
from prm.tenancy.services import notify, staff_with_role

from . import ledger, periods, rebates, statements
from .models import LedgerEntry, Plan, PlanVersion, Statement

__all__ = ["close_periods", "dispatch_period_close"]

log = logging.getLogger(__name__)
# Ended periods looked at on each run: the latest and the one before it.
LOOKBACK = 2


def ended_periods(today: date, period: str, count: int = LOOKBACK) -> list[date]:
    """The first days of the ``count`` periods that ended most recently,
    oldest first."""
    start = periods.period_start(today, period)
    found = []
    for _ in range(count):
        start = statements.previous_start(start, period)
        found.append(start)
    return found[::-1]


def issue_ended_statements(tenant: Tenant, *, now: datetime | None = None) -> int:
    today = tenant.local_today(now)
    period = statements.statement_period(tenant)
    issued = 0
    for start in ended_periods(today, period):
        # A period is issued in one transaction: once it has statements, it
        # has all of them (an ended period gains no entries).
        if Statement.objects.filter(period_start=start).exists():
            continue
        issued += statements.issue_statements(tenant, start, now=now)
    return issued


def _rebate_partners(version: PlanVersion, start: date, end: date) -> list[Partner]:
    """Partners with won deals closed in the period, and partners that
    already have a rebate of this version for it (a reversed deal may have
    to take some of it back)."""
    won = DealRegistration.objects.filter(
        status=DealRegistration.Status.WON, won_close_date__gte=start, won_close_date__lte=end
    ).values("partner_id")
    accrued = LedgerEntry.objects.filter(
        plan_version=version, period_start=start, source=LedgerEntry.Source.REBATE
    ).values("partner_id")
    return list(Partner.objects.filter(Q(pk__in=won) | Q(pk__in=accrued)).order_by("name", "pk"))


def _report_missing_rate(
    tenant: Tenant, version: PlanVersion, start: date, problem: Exception | str
) -> None:
    """Tell finance once a day per rebate period that a rate is missing (the
    hourly run retries until it is added)."""
    log.warning("rebate %s %s waits for a rate: %s", version.pk, start, problem)
    if cache.add(f"incentives:rebate-no-rate:{version.pk}:{start}", 1, 24 * 3600):
        notify(
            tenant,
            staff_with_role(Role.FINANCE),
            kind="incentives.no_rate",
            title=f"Rebate {version} for {periods.label(start, version.period)} "
            "waits for an exchange rate",
            body=str(problem),
            url=reverse("tenant_admin:incentives_exchangerate_changelist"),
        )


def accrue_rebates(tenant: Tenant, *, now: datetime | None = None) -> int:
    """Accrue or correct the rebates of every published version of active
    rebate plans for its rule periods that ended most recently. Returns how
    many entries were written."""
    today = tenant.local_today(now)
    versions = (
        PlanVersion.objects.filter(
            status=PlanVersion.Status.PUBLISHED,
            plan__is_active=True,
            plan__kind=Plan.Kind.REBATE,
        )
        .select_related("plan", "tenant")
        .prefetch_related("brackets", "tiers", "regions", "product_lines")
    )
    written = 0
    for version in versions:
        for start in ended_periods(today, version.period):
            end = periods.period_end(start, version.period)
            if end < version.effective_from or (
                version.effective_to is not None and start > version.effective_to
            ):
                continue
            found = _rebate_partners(version, start, end)
            # Eligibility counts the tier held on the period's last day
            # (``rebates``): every partner's history in one query.
            lines = timelines(found)
            for partner in found:
                try:
                    entry = rebates.sync_rebate(
                        version,
                        partner,
                        start,
                        now=now,
                        via="task:close_periods",
                        timeline=lines[partner.pk],
                    )
                except ledger.NoRate as problem:
                    _report_missing_rate(tenant, version, start, problem)
                    continue
                if entry is not None:
                    written += 1
    return written


def close_ended_periods(tenant: Tenant, *, now: datetime | None = None) -> dict:
    """Accrue the rebates of ended rule periods and issue the statements of
    ended statement periods. (A rebate written now is booked, like every
    entry, in the statement period of today.)"""
    now = now or timezone.now()
    rebates = accrue_rebates(tenant, now=now)
    issued = issue_ended_statements(tenant, now=now)
    return {"statements": issued, "rebates": rebates}


@app.task(base=TenantTask)
def close_periods(*, tenant: Tenant) -> dict[str, Any]:
    """Issue the statements of ended periods and accrue ended rebates."""
    return close_ended_periods(tenant)


@app.task
def dispatch_period_close() -> int:
    """Beat (hourly): a period close per active tenant."""
    tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        close_periods.delay(tenant_id=str(tenant_id))
    return len(tenant_ids)
