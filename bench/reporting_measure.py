"""The reporting benchmark's measurements (``bench_reporting``): the rollup
rebuild, the three dashboards through Django's test client, the executive
figures by hand-written SQL over the rollup tables, and the headline figures
against their metrics' own computation over the raw tables.

Written against the names of the reporting contract (``reporting.rollups``,
``reporting.figures``, ``reporting.models.PartnerDay``/``SegmentDay``,
``reporting.forms.ReportFilterForm``, the ``reporting:`` URL names);
``missing_parts`` says which of them this tree does not have yet."""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from partners.models import Region, Tier
from prm.tenancy.declarations import Filters, Period
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.scoping import tenant_scope

from .reporting_seed import CHANNEL_MANAGER, EXECUTIVE, PARTNER_ADMIN

PAGES = (
    ("exec", "reporting:executive", EXECUTIVE),
    ("cm", "reporting:channel", CHANNEL_MANAGER),
    ("partner", "reporting:partner", PARTNER_ADMIN),
)
NEEDED = (
    ("reporting.rollups", "rebuild"),
    ("reporting.figures", "headline"),
    ("reporting.models", "PartnerDay"),
    ("reporting.models", "SegmentDay"),
)
# Dimension columns of the rollup tables: everything else numeric is a fact.
DIMENSIONS = {"id", "tenant", "day", "partner", "region", "tier", "partner_type", "channel_manager"}
BACKEND = "prm.tenancy.auth.TenantAuthenticationBackend"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def missing_parts() -> list[str]:
    """What the benchmark needs from the reporting core and cannot find."""
    missing = []
    for module, name in NEEDED:
        try:
            if not hasattr(importlib.import_module(module), name):
                missing.append(f"{module}.{name}")
        except ImportError:
            missing.append(f"{module}.{name}")
    for _page, url_name, _email in PAGES:
        try:
            reverse(url_name)
        except NoReverseMatch:
            missing.append(f"the URL {url_name}")
    return missing


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return Decimal(str(a)) == Decimal(str(b))


class Measure:
    def __init__(self, tenant: Tenant, log: Callable[[str], None], *, requests: int) -> None:
        self.tenant = tenant
        self.log = log
        self.requests = requests
        self.today = tenant.local_today()

    def run(self) -> dict:
        results: dict = {}
        with tenant_scope(self.tenant):
            results["rollup_refresh_s"] = self.rebuild()
            self.period, self.filters = self.default_period()
            region = Region.objects.get(code="emea")
            tier = Tier.objects.get(rank=3)
            self.other = (
                f"?period=last_quarter&region={region.pk}&tier={tier.pk}&partner_type=reseller"
            )
            self.region_filters = Filters(region=region.pk)
            people = {
                m.user.email: m
                for m in Membership.objects.select_related("user", "partner").filter(
                    user__email__in=[p[2] for p in PAGES]
                )
            }
        for page, url_name, email in PAGES:
            results.update(self.page(page, url_name, people[email]))
        with tenant_scope(self.tenant):
            results.update(self.sql())
            results.update(self.mismatches())
        results["vs_sql"] = results["exec_p95_ms"] / results["sql_p95_ms"]
        return results

    def rebuild(self) -> float:
        rollups = importlib.import_module("reporting.rollups")
        started = time.perf_counter()
        counts = rollups.rebuild(self.tenant)
        elapsed = time.perf_counter() - started
        self.log(f"rollups: full rebuild in {elapsed:.1f}s ({counts})")
        return elapsed

    def default_period(self) -> tuple[Period, Filters]:
        """What the dashboards show without a query string: the filter
        form's default period, no filters."""
        try:
            forms = importlib.import_module("reporting.forms")
        except ImportError:
            return Period(self.today - timedelta(days=364), self.today), Filters()
        executive = Membership.objects.get(user__email=EXECUTIVE)
        form = forms.ReportFilterForm(
            {}, tenant=self.tenant, today=self.today, membership=executive
        )
        form.is_valid()
        return form.period, form.filters

    # --- Dashboards ---------------------------------------------------------------------

    def page(self, page: str, url_name: str, member: Membership) -> dict:
        client = Client(HTTP_HOST=f"{self.tenant.slug}.localhost")
        client.force_login(member.user, backend=BACKEND)
        url = reverse(url_name)
        other = url + (self.other if page != "partner" else "?period=last_quarter")
        counts = {}
        for target in (url, other, url, other):  # warm-up, and the two filter sets' queries
            with CaptureQueriesContext(connection) as queries:
                response = client.get(target)
            if response.status_code != 200:
                raise RuntimeError(
                    f"{target} as {member.user.email} answered {response.status_code}"
                )
            counts.setdefault(target, set()).add(len(queries.captured_queries))
        times, seen = [], set()
        for _ in range(self.requests):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            seen.add(len(queries.captured_queries))
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
        default, filtered = counts[url] | seen, counts[other]
        constant = len(default | filtered) == 1
        text = "/".join(str(c) for c in sorted(default | filtered))
        self.log(
            f"{page}: {url} p50 {statistics.median(times):.1f} ms, p95 {pct(times, 95):.1f} ms, "
            f"queries {sorted(default)} (default) {sorted(filtered)} ({other})"
        )
        return {
            f"{page}_p50_ms": statistics.median(times),
            f"{page}_p95_ms": pct(times, 95),
            f"{page}_queries": text if constant else f"{text} NOT CONSTANT",
            f"{page}_constant": constant,
        }

    # --- The same figures by hand ------------------------------------------------------

    def sql(self) -> dict:
        """The executive page's figures by hand-written SQL over the
        program-wide rollup: every fact summed over the period and the one
        before (one query, FILTER clauses) and per sparkline bucket (one
        query), on the tenant's rows."""
        rollup_models = importlib.import_module("reporting.models")
        model = rollup_models.SegmentDay
        facts = [
            f.column
            for f in model._meta.concrete_fields
            if f.name not in DIMENSIONS
            and isinstance(f, models.IntegerField | models.DecimalField | models.FloatField)
            and not f.is_relation
        ]
        if not facts:
            raise RuntimeError("SegmentDay has no numeric fact columns to sum.")
        table = model._meta.db_table
        period, previous = self.period, self.period.previous()
        both = ", ".join(
            f"sum({c}) FILTER (WHERE day >= %(start)s), sum({c}) FILTER (WHERE day < %(start)s)"
            for c in facts
        )
        totals = (
            f"SELECT {both} FROM {table} WHERE tenant_id = %(tenant)s "
            "AND day BETWEEN %(previous)s AND %(end)s"
        )
        sums = ", ".join(f"sum(s.{c})" for c in facts)
        series = (
            f"SELECT b.i, {sums} FROM unnest(%(starts)s::date[], %(ends)s::date[]) "
            f"WITH ORDINALITY AS b(start, stop, i) LEFT JOIN {table} s "
            "ON s.tenant_id = %(tenant)s AND s.day BETWEEN b.start AND b.stop "
            "GROUP BY b.i ORDER BY b.i"
        )
        starts, ends = self.buckets(period)
        params = {
            "tenant": self.tenant.pk,
            "start": period.start,
            "end": period.end,
            "previous": previous.start,
            "starts": starts,
            "ends": ends,
        }
        times = []
        for i in range(self.requests + 3):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(totals, params)
                cursor.fetchall()
                cursor.execute(series, params)
                cursor.fetchall()
            if i >= 3:  # warm-up
                times.append((time.perf_counter() - started) * 1000)
        self.log(
            f"sql: {len(facts)} facts over {len(starts)} buckets, "
            f"p50 {statistics.median(times):.2f} ms, p95 {pct(times, 95):.2f} ms"
        )
        return {"sql_p95_ms": pct(times, 95), "sql_p50_ms": statistics.median(times)}

    def buckets(self, period: Period) -> tuple[list[date], list[date]]:
        try:
            periods = importlib.import_module("reporting.periods")
            found = periods.buckets(period)
            return [b.start for b in found], [b.end for b in found]
        except ImportError:
            starts, ends, day = [], [], period.start
            while day <= period.end:
                nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
                starts.append(day)
                ends.append(min(period.end, nxt - timedelta(days=1)))
                day = nxt
            return starts, ends

    # --- Figures against the raw tables -------------------------------------------------------

    def mismatches(self) -> dict:
        """Each headline figure of the executive dashboard (value, previous
        period, sparkline buckets), for no filters and for a region, against
        its metric's computation over the raw tables."""
        figures = importlib.import_module("reporting.figures")
        # The personas' sign-ins during the measurements moved their
        # partners' adoption: refreshed as the worker would after commit.
        importlib.import_module("reporting.rollups").refresh_stale(self.tenant, limit=100_000)
        compared, lines = 0, []
        for filters in (self.filters, self.region_filters):
            started = time.perf_counter()
            for figure in figures.headline(self.tenant, self.period, filters):
                metric = figure.metric
                checks = [(self.period, figure.value), (self.period.previous(), figure.previous)]
                checks += list(figure.series or [])
                for period, shown in checks:
                    raw = metric.compute(self.tenant, period, filters)
                    compared += 1
                    if not same(shown, raw):
                        lines.append(
                            f"{metric.key} {period.start}..{period.end} {filters.query()}: "
                            f"dashboard {shown} vs raw {raw}"
                        )
            self.log(
                f"mismatches: {filters.query() or 'no filters'} compared "
                f"({time.perf_counter() - started:.1f}s)"
            )
        return {"compared": compared, "mismatches": len(lines), "mismatch_lines": lines}
