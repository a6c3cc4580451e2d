"""``bench_reporting --check``: is the reporting benchmark's seed what the
application would have written? Its accruals against the independent
pandas recomputation of ``bench.accruals`` (from the plans and the deals as
they stand: a corrected deal's accrual plus its adjustment), reversed deals
netted to zero, the business-time arithmetic against the tenant's
calendar, and every declared metric computed once over the raw tables.
(``manage.py check_ledger`` proves the ledger's checksums, base amounts,
payouts and constraints.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from django.db import connection

from bench.accruals import expected_accruals, read_frame
from dealreg.metrics import _calendar
from dealreg.models import DealRegistration, RegistrationEvent
from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Period
from prm.tenancy.models import Tenant

NETS = """
SELECT e.source || ':' || e.registration_id || ':' || e.plan_version_id || ':1' AS key,
    sum(e.amount * 100)::bigint AS amount, sum(e.amount_base * 100)::bigint AS amount_base,
    max(e.available_on) FILTER (WHERE e.kind = 'accrual') AS available_on,
    max(e.period_start) FILTER (WHERE e.kind = 'accrual') AS period_start,
    bool_or(e.kind = 'adjustment') AS corrected, min(r.status) AS status
FROM incentives_ledgerentry e JOIN dealreg_dealregistration r ON r.id = e.registration_id
WHERE e.tenant_id = %s AND e.registration_id IS NOT NULL
GROUP BY 1
"""


def check_seed(tenant: Tenant, log: Callable[[str], None]) -> list[str]:
    problems: list[str] = []
    problems += check_accruals(tenant, log)
    problems += check_business_time(tenant, log)
    problems += check_metrics(tenant, log)
    return problems


def check_accruals(tenant: Tenant, log: Callable[[str], None]) -> list[str]:
    started = time.perf_counter()
    expected = expected_accruals(tenant)
    with connection.cursor() as cursor:
        nets = read_frame(cursor, NETS, [tenant.pk])
    for column in ("amount", "amount_base"):
        nets[column] = nets[column].astype(int)
        expected[column] = expected[column].map(int)
    reversed_ = nets[nets["status"] == "reversed"]
    not_zero = int(((reversed_["amount"] != 0) | (reversed_["amount_base"] != 0)).sum())
    won = nets[nets["status"] == "won"]
    both = expected.merge(won, on="key", how="outer", suffixes=("", "_got"), indicator=True)
    missing = int((both["_merge"] == "left_only").sum())
    extra = int((both["_merge"] == "right_only").sum())
    matched = both[both["_merge"] == "both"]
    # A corrected deal's base amount is the sum of two roundings.
    base_off = (matched["amount_base"] - matched["amount_base_got"]).abs()
    tolerance = matched["corrected"].map(lambda c: 1 if c == "t" else 0)
    different = int(
        (
            (matched["amount"] != matched["amount_got"])
            | (base_off > tolerance)
            | (matched["available_on"] != matched["available_on_got"])
            | (matched["period_start"] != matched["period_start_got"])
        ).sum()
    )
    log(
        f"check: {len(expected):,} accruals recomputed (pandas): {missing} missing, {extra} extra, "
        f"{different} different; {not_zero} reversed deals not netted to zero "
        f"({time.perf_counter() - started:.1f}s)"
    )
    if missing or extra or different or not_zero:
        return [f"accruals: {missing} missing, {extra} extra, {different} different, {not_zero}"]
    return []


def check_business_time(tenant: Tenant, log: Callable[[str], None]) -> list[str]:
    """For a sample of decided registrations (all those that waited on the
    partner among them): the business time from submission to decision,
    less the wait, is within the SLA exactly when ``sla_met`` says so, as
    the turnaround metric measures it."""
    calendar = _calendar(tenant)
    kinds = (RegistrationEvent.Kind.INFO_REQUESTED, RegistrationEvent.Kind.INFO_PROVIDED)
    asked = set(
        RegistrationEvent.objects.filter(kind=kinds[0]).values_list("registration_id", flat=True)[
            :300
        ]
    )
    decided = DealRegistration.objects.filter(decided_at__isnull=False)
    sample = list(decided.filter(pk__in=asked)) + list(decided.order_by("?")[:300])
    events: dict = {}
    for e in RegistrationEvent.objects.filter(
        registration__in=[r.pk for r in sample], kind__in=kinds
    ).order_by("created_at"):
        events.setdefault(e.registration_id, []).append(e)
    wrong = 0
    for r in sample:
        assert r.submitted_at is not None and r.decided_at is not None
        waited = timedelta(0)
        since = None
        for e in events.get(r.pk, []):
            if e.kind == kinds[0]:
                since = e.created_at
            elif since is not None:
                waited += calendar.between(since, min(e.created_at, r.decided_at))
                since = None
        worked = calendar.between(r.submitted_at, r.decided_at) - waited
        if (worked <= timedelta(hours=16)) != r.sla_met:
            wrong += 1
    log(
        f"check: SLA marks of {len(sample)} decided registrations against the calendar: "
        f"{wrong} wrong"
    )
    return [f"business time: {wrong} SLA marks wrong"] if wrong else []


# The apps whose data the seed writes; the others' figures (MDF) have no
# rows here, so they are empty by design and not checked.
SEEDED_APPS = ("partners", "dealreg", "incentives", "reporting")


def check_metrics(tenant: Tenant, log: Callable[[str], None]) -> list[str]:
    """Every metric of the seeded apps over the last twelve months, computed
    once (a figure that cannot be computed, or is empty, is reported)."""
    today = tenant.local_today()
    period = Period(today - timedelta(days=364), today)
    problems = []
    for key, metric in registry.metrics().items():
        if key.split(".", 1)[0] not in SEEDED_APPS:
            continue
        started = time.perf_counter()
        try:
            value = metric.compute(tenant, period, NO_FILTERS)
        except Exception as error:  # reported, not raised: the check lists them all
            problems.append(f"{key}: {error!r}")
            continue
        log(f"check: {key:<45} {value!s:>18}  ({time.perf_counter() - started:.2f}s)")
        if value is None:
            problems.append(f"{key}: no value over the last twelve months")
    return problems
