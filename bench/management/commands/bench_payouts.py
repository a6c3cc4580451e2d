"""`make bench-payouts`: accruals, payout runs and statements at scale.

Seeds one tenant with 5,000 partners (tiers, types, regions) and BENCH_ROWS
won registrations (default 1,000,000; 80% in the base currency USD, 20% in
EUR or GBP with a monthly rate table) closed over the last 18 months, with
product lines, and three plans: a percent commission capped per deal,
marginal brackets for the top two tiers, a fixed SPIFF on one product line in
a date window. Then, in one run:

- accrual: ``incentives.bulk.accrue_won_deals`` over every won deal (which
  also records each deal's accrual state, what the sync sweep reads);
- the same accrual as ONE hand-made SQL ``INSERT ... SELECT`` into the same
  ledger table under the same constraints (same rates, rounding, keys,
  checksums; the entries only), timed with its composite foreign-key
  checks, then rolled back;
- an independent recomputation of every accrual with pandas in exact
  integer arithmetic (minor units, scaled rates), compared key by key with
  what both wrote: missing, extra and different entries are mismatches;
- the per-deal path: ``--deals`` (200) approved registrations marked won
  one by one through ``dealreg.services.record_outcome``, each timed until
  its accruals are lines of the partner's statement (the accrual task runs
  eagerly, on the outcome's commit, as a worker would run it);
- a payout run over all partners (compute, then approve and write);
- the partner statement page of a partner with 10,000 lines in the period.

The hand-made SQL and the pandas recomputation are in ``bench/accruals.py``.
It prints a table and one RESULT line. Run it on its own database (the
Makefile uses PRM_DB_NAME=prm_bench_payouts): it replaces everything in it.
``--reuse`` keeps the seeded partners and deals and empties only the ledger.
"""

import os
import statistics
import time
from datetime import timedelta
from decimal import Decimal

import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from bench.accruals import ACCRUAL_SQL, compare, expected_accruals, read_frame
from bench.payouts_seed import LEDGER_TABLES, PER_DEAL_CODE, PRODUCTS, SLUG, Seeder
from dealreg import services as dealreg_services
from dealreg.models import DealRegistration, ProductLine
from incentives import bulk, ledger, payouts, statements
from incentives.models import (
    IncentiveSettings,
    LedgerEntry,
)
from incentives.views import LINES_PER_PAGE
from partners.models import Partner
from partners.normalize import normalize_name
from prm.celery import app as celery_app
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Command(BaseCommand):
    help = "Seed a large incentives data set and print the accrual and payout figures."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rows", type=int, default=int(os.environ.get("BENCH_ROWS", 1_000_000))
        )
        parser.add_argument("--partners", type=int, default=5000)
        parser.add_argument("--requests", type=int, default=50)
        parser.add_argument(
            "--deals", type=int, default=200, help="Deals won one by one (per-deal path)."
        )
        parser.add_argument(
            "--reuse", action="store_true", help="Keep already seeded partners and deals."
        )

    def handle(self, *args, **opts):
        if not connection.settings_dict["NAME"].startswith("prm_bench"):
            raise CommandError(
                "Run the benchmark on its own database: PRM_DB_NAME=prm_bench_payouts."
            )
        rows, partner_count = opts["rows"], opts["partners"]
        if rows < 1000 or partner_count < 10:
            raise CommandError("Use at least 1,000 rows and 10 partners.")
        # Payout tasks run in this process (start_run and approve enqueue
        # them on commit).
        celery_app.conf.task_always_eager = True
        celery_app.conf.task_eager_propagates = True
        with scopes_disabled():
            tenant = Tenant.objects.filter(slug=SLUG).first()
        seeded = False
        if tenant is None or not opts["reuse"] or not Seeder(self.log).seeded_as(tenant, rows):
            tenant = Seeder(self.log).seed(rows, partner_count)
            seeded = True
        else:
            self.log("reuse: keeping partners and deals, emptying the ledger")
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {LEDGER_TABLES} CASCADE")
            with tenant_scope(tenant):
                # The last run's per-deal registrations (nothing points at
                # them once the ledger is empty).
                DealRegistration.objects.filter(code__startswith=PER_DEAL_CODE).delete()
        results = {}
        with tenant_scope(tenant):
            now = timezone.now()
            results.update(self.bench_sql(tenant, now))
            results.update(self.bench_accrual(tenant, now))
            results.update(self.bench_check(tenant, results.pop("sql_rows")))
            results.update(self.bench_deal_accrual(tenant, opts["deals"]))
            results.update(self.bench_payout_run(tenant))
            results.update(self.bench_statement(tenant, opts["requests"]))
        self.report(rows, seeded, results)

    def log(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def bench_accrual(self, tenant, now) -> dict:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE incentives_ledgerentry")
        stats: dict = {}
        started = time.perf_counter()
        written = bulk.accrue_won_deals(tenant, now=now, stats=stats)
        elapsed = time.perf_counter() - started
        self.log(f"accrual: {written:,} entries in {elapsed:.2f}s ({stats})")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE incentives_ledgerentry")
        return {"accrual_s": elapsed, "entries": written, "accrual_stats": stats}

    def bench_deal_accrual(self, tenant, count: int) -> dict:
        """Approved deals marked won one at a time through the outcome
        service, each timed from the call until its accruals are lines of
        the partner's current statement (the accrual task runs eagerly on
        the outcome's commit). The first few are not counted (warm-up)."""
        warm_up = 10
        ops = Membership.objects.get(role=Role.OPS_ADMIN)
        today = tenant.local_today()
        start = ledger.statement_start(tenant, today)
        period = statements.statement_period(tenant)  # what the statement page knows
        product = ProductLine.objects.get(name=PRODUCTS[1])
        partners = list(Partner.objects.order_by("name")[1 : count + warm_up + 1])
        with transaction.atomic():
            registrations = []
            for i in range(count + warm_up):
                partner = partners[i % len(partners)]
                name = f"Per-deal Customer {i}"
                registration = DealRegistration.objects.create(
                    tenant=tenant,
                    code=f"{PER_DEAL_CODE}{i:08d}",
                    partner=partner,
                    submitted_by=ops.user,
                    customer_name=name,
                    customer_name_normalized=normalize_name(name),
                    customer_country="US",
                    estimated_value=Decimal("25000"),
                    currency="USD",
                    expected_close_date=today,
                    status=DealRegistration.Status.APPROVED,
                )
                registration.product_lines.set([product])
                registrations.append(registration)
        times = []
        for i, registration in enumerate(registrations):
            started = time.perf_counter()
            dealreg_services.record_outcome(
                registration,
                by=ops,
                won=True,
                amount=Decimal("25000") + i,
                close_date=today - timedelta(days=1),
            )
            lines = (
                statements.lines(registration.partner, start, period=period)
                .filter(registration=registration)
                .count()
            )
            elapsed = (time.perf_counter() - started) * 1000
            if not lines:
                raise CommandError(f"{registration.code}: won, but no accrual on the statement")
            if i >= warm_up:
                times.append(elapsed)
        self.log(f"per-deal: {count} deals won and accrued one by one")
        return {
            "deal_accrual_p50_ms": statistics.median(times),
            "deal_accrual_p95_ms": pct(times, 95),
        }

    def bench_sql(self, tenant, now) -> dict:
        """The same accruals as one INSERT ... SELECT into the same ledger
        table (indexes, constraints and reference checks included), timed,
        its rows read out for the check, then rolled back."""
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {LEDGER_TABLES} CASCADE")
            cursor.execute("VACUUM ANALYZE incentives_ledgerentry")
        today = tenant.local_today(now)
        params = {
            "tenant": tenant.pk,
            "base": tenant.base_currency,
            "won": DealRegistration.Status.WON.value,
            "statement_start": ledger.statement_start(tenant, today),
            "holding": IncentiveSettings.for_tenant(tenant).holding_days,
            "now": now,
            "via": "bench:sql",
        }
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(ACCRUAL_SQL, params)
            inserted = cursor.rowcount
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred FK checks
            elapsed = time.perf_counter() - started
            sql_rows = read_frame(
                cursor,
                "SELECT idempotency_key AS key, (amount * 100)::bigint AS amount, "
                "(amount_base * 100)::bigint AS amount_base, available_on, period_start, "
                "checksum FROM incentives_ledgerentry WHERE tenant_id = %s",
                [tenant.pk],
            )
            transaction.set_rollback(True)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {LEDGER_TABLES} CASCADE")
        self.log(f"sql: {inserted:,} entries in {elapsed:.2f}s (rolled back)")
        return {"sql_s": elapsed, "sql_entries": inserted, "sql_rows": sql_rows}

    def bench_check(self, tenant, sql_rows: pd.DataFrame) -> dict:
        started = time.perf_counter()
        expected = expected_accruals(tenant)
        with connection.cursor() as cursor:
            written = read_frame(
                cursor,
                "SELECT idempotency_key AS key, (amount * 100)::bigint AS amount, "
                "(amount_base * 100)::bigint AS amount_base, available_on, period_start, "
                "checksum FROM incentives_ledgerentry WHERE tenant_id = %s AND kind = 'accrual'",
                [tenant.pk],
            )
        mismatches = compare(expected, written)
        sql_mismatches = compare(expected, sql_rows)
        both = written.merge(sql_rows, on="key", suffixes=("", "_sql"))
        checksum_diff = int((both["checksum"] != both["checksum_sql"]).sum())
        elapsed = time.perf_counter() - started
        self.log(
            f"check: {len(expected):,} accruals recomputed with pandas; "
            f"bulk {mismatches}, SQL {sql_mismatches} mismatches; {elapsed:.1f}s"
        )
        return {
            "mismatches": mismatches,
            "sql_mismatches": sql_mismatches,
            "checksum_diff": checksum_diff,
            "expected": len(expected),
            "check_s": elapsed,
        }

    # --- payouts and statements ------------------------------------------------------------

    def bench_payout_run(self, tenant) -> dict:
        finance = Membership.objects.get(role=Role.FINANCE, user__email="finance@bench.example")
        checker = Membership.objects.get(
            role=Role.FINANCE, user__email="finance.checker@bench.example"
        )
        cutoff = tenant.local_today()
        started = time.perf_counter()
        run = payouts.start_run(tenant, by=finance, cutoff=cutoff)  # computes on commit
        computed = time.perf_counter() - started
        run.refresh_from_db()
        if run.status != run.Status.REVIEW:
            raise CommandError(f"The payout run is {run.status}, not in review: {run.error}")
        started = time.perf_counter()
        run = payouts.approve(run, by=checker)  # writes the payouts on commit
        written = time.perf_counter() - started
        run.refresh_from_db()
        if run.status != run.Status.APPROVED:
            raise CommandError(f"The payout run is {run.status}, not approved: {run.error}")
        payouts_written = LedgerEntry.objects.filter(payout_run=run).count()
        self.log(
            f"payout run: {run.partners_total:,} partners paid {run.total_payable} "
            f"(compute {computed:.2f}s, write {written:.2f}s)"
        )
        return {
            "payout_compute_s": computed,
            "payout_write_s": written,
            "payout_run_s": computed + written,
            "payouts": payouts_written,
            "settled": run.settlements.count(),
        }

    def bench_statement(self, tenant, requests: int) -> dict:
        member = Membership.objects.select_related("user", "partner").get(role=Role.PARTNER_ADMIN)
        lines = LedgerEntry.objects.filter(
            partner=member.partner,
            statement_start=ledger.statement_start(tenant, tenant.local_today()),
        ).count()
        client = Client(HTTP_HOST=f"{tenant.slug}.localhost")
        client.force_login(member.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        # The current period's statement, its first and its last page of
        # lines (the figures cover all of them).
        url = reverse("incentives:statement")
        last_page = max(1, -(-lines // LINES_PER_PAGE))
        urls = [url, f"{url}?page={last_page}"]
        for target in urls:
            client.get(target)  # warm up
        times, counts = [], []
        for i in range(requests):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(urls[i % 2])
                times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise CommandError(f"{urls[i % 2]} answered {response.status_code}")
            counts.append(len(queries.captured_queries))
        self.log(f"statement: {lines:,} lines, {requests} requests")
        return {
            "statement_lines": lines,
            "statement_p50_ms": statistics.median(times),
            "statement_p95_ms": pct(times, 95),
            "statement_queries": max(counts),
        }

    # --- report ---------------------------------------------------------------------------

    def report(self, rows: int, seeded: bool, r: dict) -> None:
        ratio = r["accrual_s"] / r["sql_s"] if r["sql_s"] else float("inf")
        mismatches = r["mismatches"]
        st = r["accrual_stats"]
        w = 50
        lines = [
            "",
            f"Incentives benchmark: {rows:,} won deals, {r['entries']:,} accruals"
            + ("" if seeded else " (reused data)"),
            f"{'measure':<{w}}{'value':>14}{'target':>14}",
            f"{'accrual, bulk path (s)':<{w}}{r['accrual_s']:>14.2f}",
            f"{'  deals per second':<{w}}{rows / r['accrual_s']:>14,.0f}",
            f"{'  reading deals (main connection)':<{w}}{st['read_s']:>14.2f}",
            f"{'  computing (Python)':<{w}}{st['compute_s']:>14.2f}",
            f"{'  handing over (incl. waiting for writers)':<{w}}{st['hand_over_s']:>14.2f}",
            f"{'  writers: entries (COPY, indexes, FK checks)':<{w}}{st['entries_s']:>14.2f}",
            f"{'  writers: accrual states':<{w}}{st['states_s']:>14.2f}",
            f"{'same accrual as one hand-made SQL (s)':<{w}}{r['sql_s']:>14.2f}",
            f"{'bulk path / hand-made SQL':<{w}}{ratio:>14.2f}{'<= 1.0':>14}",
            f"{'entries written: bulk / SQL / recomputed':<{w}}"
            f"{r['entries']:>8,}/{r['sql_entries']:,}/{r['expected']:,}",
            f"{'mismatches bulk vs pandas (missing+extra+diff)':<{w}}{mismatches:>14d}{'0':>14}",
            f"{'mismatches SQL vs pandas':<{w}}{r['sql_mismatches']:>14d}",
            f"{'checksums differing, bulk vs SQL':<{w}}{r['checksum_diff']:>14d}",
            f"{'pandas recomputation and comparison (s)':<{w}}{r['check_s']:>14.2f}",
            f"{'deal won -> accruals on the statement p50 (ms)':<{w}}"
            f"{r['deal_accrual_p50_ms']:>14.2f}",
            f"{'deal won -> accruals on the statement p95 (ms)':<{w}}"
            f"{r['deal_accrual_p95_ms']:>14.2f}{'<= 50':>14}",
            f"{'payout run: compute (s)':<{w}}{r['payout_compute_s']:>14.2f}",
            f"{'payout run: approve and write (s)':<{w}}{r['payout_write_s']:>14.2f}",
            f"{'payout run total (s)':<{w}}{r['payout_run_s']:>14.2f}",
            f"{'  payouts written / entries settled':<{w}}{r['payouts']:>8,}/{r['settled']:,}",
            f"{'statement lines in the period (first, last page)':<{w}}{r['statement_lines']:>14,}",
            f"{'statement page p50 (ms)':<{w}}{r['statement_p50_ms']:>14.2f}",
            f"{'statement page p95 (ms)':<{w}}{r['statement_p95_ms']:>14.2f}{'<= 200':>14}",
            f"{'statement page queries':<{w}}{r['statement_queries']:>14d}",
            f"RESULT accrual_s={r['accrual_s']:.2f} accrual_vs_sql={ratio:.2f} "
            f"deal_accrual_p95_ms={r['deal_accrual_p95_ms']:.2f} "
            f"payout_run_s={r['payout_run_s']:.2f} statement_p95_ms={r['statement_p95_ms']:.2f} "
            f"mismatches={mismatches}",
        ]
        self.stdout.write("\n".join(lines))
