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

It prints a table and one RESULT line. Run it on its own database (the
Makefile uses PRM_DB_NAME=prm_bench_payouts): it replaces everything in it.
``--reuse`` keeps the seeded partners and deals and empties only the ledger.
"""

import io
import os
import statistics
import time
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from dealreg import services as dealreg_services
from dealreg.models import DealRegistration, ProductLine
from incentives import bulk, ledger, payouts, periods, plans, statements
from incentives.models import (
    Bracket,
    ExchangeRate,
    IncentiveSettings,
    LedgerEntry,
    Plan,
    PlanVersion,
)
from incentives.views import LINES_PER_PAGE
from partners.models import Partner, Region, Tier
from partners.normalize import normalize_name
from prm.celery import app as celery_app
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope

PASSWORD = "bench-pass-2026"
SLUG = "bench"
STATEMENT_LINES = 10_000
TIERS = [("Bronze", 1), ("Silver", 2), ("Gold", 3), ("Platinum", 4)]
REGIONS = [("na", "North America"), ("emea", "EMEA"), ("apac", "APAC"), ("latam", "LATAM")]
TYPES = [t.value for t in Partner.Type]
PRODUCTS = [f"Product {i}" for i in range(10)]
STORAGE = "Storage"  # the SPIFF's product line
PER_DEAL_CODE = "PD-"  # registrations of the per-deal measurement

# Ledger tables emptied before measuring (the bench tenant is alone in its
# database; TRUNCATE is the owner's maintenance, the append-only trigger is
# for rows).
LEDGER_TABLES = (
    "incentives_disputemessage, incentives_dispute, incentives_settlement, "
    "incentives_payoutline, incentives_payoutrun, incentives_statement, "
    "incentives_ledgerentry, incentives_dealaccrualstate"
)


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
        if tenant is None or not opts["reuse"] or not self.seeded_as(tenant, rows):
            tenant = self.seed(rows, partner_count)
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

    # --- seeding -----------------------------------------------------------------------

    def seeded_as(self, tenant, rows: int) -> bool:
        with tenant_scope(tenant):
            seeded = DealRegistration.objects.exclude(code__startswith=PER_DEAL_CODE)
            return seeded.count() == rows

    def seed(self, rows: int, partner_count: int) -> Tenant:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            # A dedicated database: clearing every tenant and person is quick
            # (cascading through a million rows with the ORM is not). The
            # ledger tables are named: the ledger's tenant column is no
            # foreign key of its own (see LedgerEntry) for a CASCADE to follow.
            cursor.execute(f"TRUNCATE {LEDGER_TABLES}, tenancy_tenant, tenancy_user CASCADE")
        tenant = Tenant.objects.create(
            slug=SLUG, name="Bench Corp", timezone="America/New_York", base_currency="USD"
        )
        today = ledger.local_today(tenant)
        with tenant_scope(tenant), transaction.atomic():
            tiers = [
                Tier.objects.create(tenant=tenant, name=name, rank=rank) for name, rank in TIERS
            ]
            regions = [
                Region.objects.create(tenant=tenant, code=code, name=name) for code, name in REGIONS
            ]
            products = [
                ProductLine.objects.create(tenant=tenant, name=name, code=f"p{i}")
                for i, name in enumerate([STORAGE, *PRODUCTS[1:]])
            ]
            users = {}
            for role, local in (
                (Role.OPS_ADMIN, "ops"),
                (Role.FINANCE, "finance"),
                (Role.CHANNEL_MANAGER, "cm"),
                (Role.PARTNER_ADMIN, "partner.admin"),
            ):
                users[role] = User.objects.create_user(
                    email=f"{local}@bench.example", password=PASSWORD
                )

            def tier_of(i: int) -> Tier:
                # 7% platinum, 18% gold, 30% silver, 45% bronze (partner 0,
                # the statement partner, is silver).
                r = (i * 37 + 50) % 100
                return (
                    tiers[3] if r < 7 else tiers[2] if r < 25 else tiers[1] if r < 55 else tiers[0]
                )

            partners = Partner.objects.bulk_create(
                Partner(
                    tenant=tenant,
                    name=f"Bench Partner {i:05d}",
                    normalized_name=normalize_name(f"Bench Partner {i:05d}"),
                    domain=f"partner{i:05d}.bench.example",
                    website=f"https://partner{i:05d}.bench.example",
                    partner_type=TYPES[i % len(TYPES)],
                    country="US",
                    region=regions[i % len(regions)],
                    tier=tier_of(i),
                    status=Partner.Status.ACTIVE,
                    channel_manager=users[Role.CHANNEL_MANAGER],
                )
                for i in range(partner_count)
            )
            for role, user in users.items():
                Membership.objects.create(
                    tenant=tenant,
                    user=user,
                    role=role,
                    partner=partners[0] if role == Role.PARTNER_ADMIN else None,
                )
            IncentiveSettings.objects.filter(pk=IncentiveSettings.for_tenant(tenant).pk).update(
                statement_period="month", holding_days=30, minimum_payout=Decimal("50")
            )
            # Monthly rates from 20 months back, four to eight decimals.
            first = periods.period_start(today - timedelta(days=620), "month")
            month, k = first, 0
            while month <= today:
                ExchangeRate.objects.create(
                    tenant=tenant,
                    currency="EUR",
                    valid_from=month,
                    rate=Decimal("1.05") + Decimal((k * 37) % 900) / 10000,
                )
                ExchangeRate.objects.create(
                    tenant=tenant,
                    currency="GBP",
                    valid_from=month,
                    rate=Decimal("1.22") + Decimal((k * 7919) % 9000001) / 100_000_000,
                )
                month, k = periods.next_start(month, "month"), k + 1
            ops = Membership.objects.get(role=Role.OPS_ADMIN)
            self.make_plans(tenant, ops, today, tiers, products)
        self.log(
            f"seed: tenant, {partner_count} partners, plans ({time.perf_counter() - started:.1f}s)"
        )
        self.seed_deals(tenant, rows, users, products, today)
        self.log(f"seed: done in {time.perf_counter() - started:.1f}s")
        return tenant

    def make_plans(self, tenant, ops, today, tiers, products) -> None:
        start = today - timedelta(days=800)

        def plan(name, kind, **rule):
            brackets = rule.pop("brackets", ())
            tier_list = rule.pop("tiers", ())
            product_list = rule.pop("product_lines", ())
            p = Plan.objects.create(tenant=tenant, name=name, kind=kind)
            version = PlanVersion.objects.create(tenant=tenant, plan=p, number=1, **rule)
            version.tiers.set(tier_list)
            version.product_lines.set(product_list)
            for lower, percent in brackets:
                Bracket.objects.create(
                    tenant=tenant,
                    version=version,
                    lower=Decimal(lower),
                    rate_percent=Decimal(percent),
                )
            plans.publish(version, by=ops)

        plan(
            "Partner commission",
            Plan.Kind.COMMISSION,
            effective_from=start,
            rate_type=PlanVersion.RateType.PERCENT,
            rate_percent=Decimal("4.5"),
            cap_per_deal=Decimal("6000"),
        )
        plan(
            "Gold and Platinum volume brackets",
            Plan.Kind.COMMISSION,
            effective_from=start,
            rate_type=PlanVersion.RateType.BRACKETS_MARGINAL,
            brackets=[("0", "0.5"), ("25000", "1.25"), ("100000", "2.125")],
            tiers=tiers[2:],
        )
        plan(
            "Storage launch SPIFF",
            Plan.Kind.SPIFF,
            effective_from=today - timedelta(days=240),
            effective_to=today - timedelta(days=120),
            rate_type=PlanVersion.RateType.FIXED,
            fixed_amount=Decimal("250"),
            product_lines=[products[0]],
        )

    def seed_deals(self, tenant, rows, users, products, today) -> None:
        started = time.perf_counter()
        extra = min(STATEMENT_LINES, rows // 10)
        params = {
            "tenant": tenant.pk,
            "submitter": users[Role.PARTNER_ADMIN].pk,
            "cm": users[Role.CHANNEL_MANAGER].pk,
            "rows": rows,
            "extra": extra,
            "today": today,
            "products": [p.pk for p in products],
            "first_ms": int((timezone.now() - timedelta(days=560)).timestamp() * 1000),
            "step_ms": 540 * 86_400_000 // rows,
        }
        with transaction.atomic(), connection.cursor() as cursor:
            # Bulk load without the secondary indexes, then build them once.
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
                "('dealreg_dealregistration', 'dealreg_dealregistration_product_lines') "
                "AND indexdef NOT LIKE '%%UNIQUE%%'"
            )
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
            cursor.execute(
                "CREATE TEMP TABLE bench_partners AS SELECT row_number() OVER (ORDER BY name) - 1"
                " AS i, id FROM partners_partner WHERE tenant_id = %(tenant)s",
                params,
            )
            # Deal n: partner 0 (the statement partner) for the first
            # `extra`, then round robin; 80% USD, 10% EUR, 10% GBP; 500 to
            # 200,500; closed 0-539 days ago; registered over the last 18
            # months with time-ordered ids, as the application makes them
            # (uuid7 of the creation time).
            cursor.execute(
                """
                INSERT INTO dealreg_dealregistration (
                    id, tenant_id, code, partner_id, submitted_by_id, customer_name,
                    customer_name_normalized, customer_domain, customer_country,
                    customer_contact_name, customer_contact_email, customer_contact_phone,
                    estimated_value, currency, expected_close_date, description, custom_data,
                    status, conflict_state, approver_id, submitted_at, sla_due_at, sla_cycle,
                    decided_at, decision_reason, sla_met, extension_count,
                    won_amount, won_currency, won_close_date, lost_reason, reversal_reason,
                    outcome_recorded_at, created_at, updated_at)
                SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
                    substring(int8send(s.ms) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
                    %(tenant)s, 'DR-' || lpad(upper(to_hex(n)), 8, '0'),
                    p.id, %(submitter)s, s.name, lower(s.name), '', 'US', '', '', '',
                    s.amount, s.currency, s.close, '', '{}'::jsonb,
                    'won', 'clear', %(cm)s, s.at, s.at + interval '2 days', 1,
                    s.at + interval '1 day', '', true, 0,
                    s.amount, s.currency, s.close, '', '', s.at, s.at, s.at
                FROM generate_series(1, %(rows)s) AS n
                CROSS JOIN LATERAL (SELECT
                    'Customer ' || n || ' Holdings' AS name,
                    (500 + ((hashint4(n * 31) & 2147483647) %% 20000000) / 100.0)::numeric(14,2)
                        AS amount,
                    CASE WHEN (hashint4(n * 17) & 2147483647) %% 10 < 8 THEN 'USD'
                         WHEN (hashint4(n * 17) & 2147483647) %% 10 = 8 THEN 'EUR'
                         ELSE 'GBP' END AS currency,
                    %(today)s::date - ((hashint4(n * 13) & 2147483647) %% 540) AS close,
                    to_timestamp((%(first_ms)s::bigint + n * %(step_ms)s::bigint) / 1000.0) AS at,
                    %(first_ms)s::bigint + n * %(step_ms)s::bigint AS ms) AS s
                JOIN bench_partners p ON p.i = CASE WHEN n <= %(extra)s THEN 0
                    ELSE n %% (SELECT count(*) FROM bench_partners) END
                """,
                params,
            )
            # One or two product lines per deal; the first is the SPIFF's
            # for about one deal in seven.
            cursor.execute(
                """
                INSERT INTO dealreg_dealregistration_product_lines
                    (dealregistration_id, productline_id)
                SELECT r.id, (%(products)s::uuid[])[1 + (hashtext(r.code) & 2147483647) %% 7]
                FROM dealreg_dealregistration r WHERE r.tenant_id = %(tenant)s
                UNION
                SELECT r.id, (%(products)s::uuid[])[8 + (hashtext(r.code) & 2147483647) %% 3]
                FROM dealreg_dealregistration r
                WHERE r.tenant_id = %(tenant)s AND (hashtext(r.code) & 2147483647) %% 3 = 0
                """,
                params,
            )
            self.log(
                f"seed: {rows:,} won registrations inserted ({time.perf_counter() - started:.1f}s)"
            )
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for _name, definition in indexes:
                cursor.execute(definition)
        with connection.cursor() as cursor:
            # What autovacuum does to a bulk-loaded table soon after (its
            # visibility map lets index-only scans skip the rows), done now
            # so that every run measures the same state.
            for table in (
                "dealreg_dealregistration",
                "dealreg_dealregistration_product_lines",
                "partners_partner",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
        self.log(f"seed: indexes rebuilt, vacuumed ({time.perf_counter() - started:.1f}s)")

    # --- accrual ----------------------------------------------------------------------

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
        today = ledger.local_today(tenant)
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
        today = ledger.local_today(tenant, now)
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
        finance = Membership.objects.get(role=Role.FINANCE)
        cutoff = ledger.local_today(tenant)
        started = time.perf_counter()
        run = payouts.start_run(tenant, by=finance, cutoff=cutoff)  # computes on commit
        computed = time.perf_counter() - started
        run.refresh_from_db()
        if run.status != run.Status.REVIEW:
            raise CommandError(f"The payout run is {run.status}, not in review: {run.error}")
        started = time.perf_counter()
        run = payouts.approve(run, by=finance)  # writes the payouts on commit
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
            statement_start=ledger.statement_start(tenant, ledger.local_today(tenant)),
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


# --- The hand-made SQL -------------------------------------------------------------------

# Every won deal with every published version of an active commission or
# SPIFF plan that covers its close date and for which partner and products
# qualify; the rate in force on the close date (LATERAL), the rule (percent,
# fixed, whole or marginal brackets with bounds converted at the deal's
# rate, cap per deal), rounded half away from zero to the cent (ROUND on
# numeric), the base amount, key, description and checksum as the ledger
# writes them. Order-dependent rules (quota, per-period cap) are not in the
# bench's plans; this query refuses them rather than computing them wrong.
ACCRUAL_SQL = """
WITH v AS MATERIALIZED (
    SELECT v.id, v.effective_from, v.effective_to, v.rate_type, v.rate_percent,
        v.fixed_amount, v.cap_per_deal, v.period, v.partner_types, v.number,
        CASE WHEN p.kind = 'spiff' THEN 'spiff' ELSE 'deal' END AS source,
        'Accrual: ' || p.name || ' v' || v.number || ' on ' AS prefix,
        ARRAY(SELECT t.tier_id FROM incentives_planversion_tiers t
              WHERE t.planversion_id = v.id) AS tiers,
        ARRAY(SELECT g.region_id FROM incentives_planversion_regions g
              WHERE g.planversion_id = v.id) AS regions,
        ARRAY(SELECT x.productline_id FROM incentives_planversion_product_lines x
              WHERE x.planversion_id = v.id) AS products
    FROM incentives_planversion v JOIN incentives_plan p ON p.id = v.plan_id
    WHERE v.tenant_id = %(tenant)s AND v.status = 'published' AND p.is_active
        AND p.kind IN ('commission', 'spiff')
        AND (v.quota IS NULL OR v.accelerator IS NULL) AND v.cap_per_period IS NULL
), done AS MATERIALIZED (
    -- read before the first row is written, not re-scanned while writing
    SELECT e.registration_id, e.plan_version_id FROM incentives_ledgerentry e
    WHERE e.tenant_id = %(tenant)s AND e.registration_id IS NOT NULL
), d AS MATERIALIZED (
    SELECT r.id, r.partner_id, r.code, r.customer_name, r.won_amount AS amount,
        r.won_currency AS currency, r.won_close_date AS close, pa.tier_id, pa.partner_type,
        pa.region_id,
        CASE WHEN r.won_currency = %(base)s THEN 1::numeric ELSE fx.rate END AS rate
    FROM dealreg_dealregistration r
    JOIN partners_partner pa ON pa.id = r.partner_id
    LEFT JOIN LATERAL (
        SELECT x.rate FROM incentives_exchangerate x
        WHERE x.tenant_id = r.tenant_id AND x.currency = r.won_currency
            AND x.valid_from <= r.won_close_date AND r.won_currency <> %(base)s
        ORDER BY x.valid_from DESC LIMIT 1
    ) fx ON true
    WHERE r.tenant_id = %(tenant)s AND r.status = %(won)s AND r.won_close_date IS NOT NULL
        AND r.won_amount IS NOT NULL AND r.won_currency <> ''
), pairs AS MATERIALIZED (
    SELECT d.*, v.id AS version_id, v.rate_type, v.rate_percent, v.fixed_amount,
        v.cap_per_deal, v.source, v.prefix,
        date_trunc(CASE v.period WHEN 'month' THEN 'month' WHEN 'quarter' THEN 'quarter'
                   ELSE 'year' END, d.close)::date AS period_start
    FROM d JOIN v ON v.effective_from <= d.close
        AND (v.effective_to IS NULL OR d.close <= v.effective_to)
        AND (cardinality(v.tiers) = 0 OR d.tier_id = ANY(v.tiers))
        AND (cardinality(v.regions) = 0 OR d.region_id = ANY(v.regions))
        AND (cardinality(v.partner_types) = 0 OR d.partner_type = ANY(v.partner_types))
        AND (cardinality(v.products) = 0 OR EXISTS (
            SELECT 1 FROM dealreg_dealregistration_product_lines rp
            WHERE rp.dealregistration_id = d.id AND rp.productline_id = ANY(v.products)))
    WHERE d.rate IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM done WHERE done.registration_id = d.id AND done.plan_version_id = v.id)
), computed AS MATERIALIZED (
    SELECT pairs.*, round(CASE WHEN amount <= 0 THEN 0 ELSE LEAST(
        CASE rate_type
            WHEN 'percent' THEN amount * rate_percent / 100
            WHEN 'fixed' THEN fixed_amount / rate
            WHEN 'brackets_whole' THEN amount * coalesce((
                SELECT b.rate_percent FROM incentives_bracket b
                WHERE b.version_id = pairs.version_id AND amount >= b.lower / rate
                ORDER BY b.lower DESC LIMIT 1), 0) / 100
            ELSE (
                SELECT coalesce(sum((LEAST(amount, b.upper / rate) - b.lower / rate)
                    * b.rate_percent / 100), 0)
                FROM (SELECT x.lower * 1.00000000000000000000 AS lower, x.rate_percent,
                          lead(x.lower) OVER (ORDER BY x.lower) * 1.00000000000000000000
                              AS upper
                      FROM incentives_bracket x WHERE x.version_id = pairs.version_id) b
                WHERE amount > b.lower / rate)
        END,
        cap_per_deal / rate) END, 2) AS target
    FROM pairs
), entries AS (
    SELECT computed.*, round(target * rate, 2) AS amount_base,
        close + %(holding)s AS available_on,
        source || ':' || id || ':' || version_id || ':1' AS key
    FROM computed WHERE target > 0
)
INSERT INTO incentives_ledgerentry (
    id, tenant_id, partner_id, kind, amount, currency, fx_rate, amount_base, base_currency,
    source, registration_id, plan_version_id, basis_amount, basis_currency, period_start,
    statement_start, effective_date, available_on, description, created_via, created_at,
    idempotency_key, checksum)
SELECT
    encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
        substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
    %(tenant)s, partner_id, 'accrual', target, currency, rate, amount_base, %(base)s,
    source, id, version_id, amount, currency, period_start, %(statement_start)s, close,
    available_on, left(prefix || code || ' ' || customer_name, 300), %(via)s, %(now)s, key,
    encode(sha256(convert_to(concat_ws('|', %(tenant)s::text, partner_id::text, 'accrual',
        trim_scale(target)::text, currency, trim_scale(rate)::text,
        trim_scale(amount_base)::text, source, id::text, version_id::text, close::text,
        available_on::text, key), 'UTF8')), 'hex')
FROM entries
ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
"""


# --- The independent recomputation (pandas, exact integers) --------------------------------


def read_frame(cursor, sql: str, params) -> pd.DataFrame:
    """A query's result through COPY ... TO STDOUT (CSV) into a DataFrame."""
    query = connection.ops.compose_sql(sql, params)
    buffer = io.BytesIO()
    with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=str, keep_default_na=False)


def scaled(values: pd.Series, digits: int) -> pd.Series:
    """Decimal text as exact integers of 10**-digits (object dtype: Python
    ints, no overflow, no float)."""

    def one(text: str) -> int:
        sign = -1 if text.startswith("-") else 1
        whole, _, frac = text.lstrip("-").partition(".")
        frac = (frac + "0" * digits)[:digits]
        if text.lstrip("-").partition(".")[2][digits:].strip("0"):
            raise ValueError(f"{text} has more than {digits} decimals")
        return sign * int((whole or "0") + frac)

    return values.map(one).astype(object)


def half_up(numerator: pd.Series, denominator) -> pd.Series:
    """numerator / denominator rounded half away from zero (non-negative
    numerators here), exactly."""
    return (2 * numerator + denominator) // (2 * denominator)


def expected_accruals(tenant) -> pd.DataFrame:
    """Every accrual the rules call for, computed independently of
    ``incentives.rules`` in exact integer arithmetic: amounts in cents,
    rates in 10**-8, percentages in 10**-4, rule amounts in 10**-3."""
    with connection.cursor() as cursor:
        deals = read_frame(
            cursor,
            "SELECT r.id, r.partner_id, r.won_amount, r.won_currency, r.won_close_date, "
            "p.tier_id, p.partner_type, coalesce(p.region_id::text, '') AS region_id "
            "FROM dealreg_dealregistration r JOIN partners_partner p ON p.id = r.partner_id "
            "WHERE r.tenant_id = %s AND r.status = 'won' AND r.won_close_date IS NOT NULL "
            "AND r.won_amount IS NOT NULL AND r.won_currency <> ''",
            [tenant.pk],
        )
        product_rows = read_frame(
            cursor,
            "SELECT x.dealregistration_id AS id, x.productline_id FROM "
            "dealreg_dealregistration_product_lines x JOIN dealreg_dealregistration r "
            "ON r.id = x.dealregistration_id WHERE r.tenant_id = %s",
            [tenant.pk],
        )
    deals["cents"] = scaled(deals["won_amount"], 2)
    deals["close"] = pd.to_datetime(deals["won_close_date"])
    # The rate in force on the close date: the latest valid_from <= close.
    rates = pd.DataFrame(
        list(ExchangeRate.objects.values_list("currency", "valid_from", "rate")),
        columns=["currency", "valid_from", "rate"],
    )
    rates["valid_from"] = pd.to_datetime(rates["valid_from"]).astype(deals["close"].dtype)
    rates["r8"] = scaled(rates["rate"].map(str), 8)
    deals = deals.sort_values("close")
    deals["r8"] = None
    base = deals["won_currency"] == tenant.base_currency
    deals.loc[base, "r8"] = 10**8
    foreign = deals[~base]
    if len(foreign):
        matched = pd.merge_asof(
            foreign[["close", "won_currency"]].reset_index(),
            rates.sort_values("valid_from")[["valid_from", "currency", "r8"]],
            left_on="close",
            right_on="valid_from",
            left_by="won_currency",
            right_by="currency",
        ).set_index("index")
        deals.loc[matched.index, "r8"] = matched["r8"]
    deals = deals[deals["r8"].notna()].copy()  # a missing rate: nothing accrued
    settings = IncentiveSettings.for_tenant(tenant)
    holding = np.timedelta64(settings.holding_days, "D")
    frames = []
    for version in ledger._versions(tenant, [Plan.Kind.COMMISSION, Plan.Kind.SPIFF]):
        if version.cap_per_period is not None or version.quota is not None:
            raise CommandError(f"{version}: order-dependent rules are not in this check.")
        eligible = deals[
            (deals["close"] >= pd.Timestamp(version.effective_from))
            & (
                True
                if version.effective_to is None
                else deals["close"] <= pd.Timestamp(version.effective_to)
            )
        ]
        tiers = {str(t.pk) for t in version.tiers.all()}
        regions = {str(g.pk) for g in version.regions.all()}
        products = {str(p.pk) for p in version.product_lines.all()}
        if tiers:
            eligible = eligible[eligible["tier_id"].isin(tiers)]
        if regions:
            eligible = eligible[eligible["region_id"].isin(regions)]
        if version.partner_types:
            eligible = eligible[eligible["partner_type"].isin(version.partner_types)]
        if products:
            named = product_rows.loc[product_rows["productline_id"].isin(products), "id"]
            eligible = eligible[eligible["id"].isin(set(named))]
        eligible = eligible[eligible["cents"] > 0].copy()
        w, r8 = eligible["cents"], eligible["r8"]
        if version.rate_type == PlanVersion.RateType.PERCENT:
            p4 = int(version.rate_percent * 10**4)
            target = half_up(w * p4, 10**6)  # cents * %·10^4 / (100 · 10^4)
        elif version.rate_type == PlanVersion.RateType.FIXED:
            f3 = int(version.fixed_amount * 1000)
            # (f3 / 10^3) / (r8 / 10^8) units, in cents
            target = half_up(pd.Series(f3 * 10**7, index=r8.index, dtype=object), r8)
        else:
            # Compare and slice in base units of 10**-10: deal cents * r8
            # against bounds * 10**10.
            x = w * r8
            bounds = [
                (int(b.lower * 1000) * 10**7, int(b.rate_percent * 10**4))
                for b in sorted(version.brackets.all(), key=lambda b: b.lower)
            ]
            if version.rate_type == PlanVersion.RateType.BRACKETS_WHOLE:
                p4 = pd.Series(0, index=eligible.index, dtype=object)
                for lower, percent in bounds:
                    p4 = p4.where(~(x >= lower), percent)
                target = half_up(w * p4, 10**6)
            else:
                total = pd.Series(0, index=eligible.index, dtype=object)
                for i, (lower, percent) in enumerate(bounds):
                    upper = bounds[i + 1][0] if i + 1 < len(bounds) else None
                    top = x if upper is None else x.where(x < upper, upper)
                    part = (top - lower) * percent
                    total = total + part.where(x > lower, 0)
                # sum(slice · p4) / (10^10 · r8/10^8 · 100 · 10^4) units, in cents
                target = half_up(total, r8 * 10**6)
        if version.cap_per_deal is not None:
            c3 = int(version.cap_per_deal * 1000)
            cap = half_up(pd.Series(c3 * 10**7, index=r8.index, dtype=object), r8)
            target = target.where(target <= cap, cap)
        eligible["amount"] = target
        eligible = eligible[eligible["amount"] > 0]
        source = "spiff" if version.plan.kind == Plan.Kind.SPIFF else "deal"
        frames.append(
            pd.DataFrame(
                {
                    "key": source + ":" + eligible["id"] + f":{version.pk}:1",
                    "amount": eligible["amount"],
                    "amount_base": half_up(eligible["amount"] * eligible["r8"], 10**8),
                    "available_on": (eligible["close"] + holding).dt.strftime("%Y-%m-%d"),
                    "period_start": eligible["close"]
                    .dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[version.period])
                    .dt.start_time.dt.strftime("%Y-%m-%d"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def compare(expected: pd.DataFrame, written: pd.DataFrame) -> int:
    """Missing, extra and different (amount, base amount, dates) entries."""
    got = written.copy()
    got["amount"] = got["amount"].map(int).astype(object)
    got["amount_base"] = got["amount_base"].map(int).astype(object)
    both = expected.merge(got, on="key", how="outer", suffixes=("", "_got"), indicator=True)
    missing = int((both["_merge"] == "left_only").sum())
    extra = int((both["_merge"] == "right_only").sum())
    matched = both[both["_merge"] == "both"]
    different = int(
        (
            (matched["amount"] != matched["amount_got"])
            | (matched["amount_base"] != matched["amount_base_got"])
            | (matched["available_on"] != matched["available_on_got"])
            | (matched["period_start"] != matched["period_start_got"])
        ).sum()
    )
    return missing + extra + different
