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
        today = tenant.local_today()
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
        finance = Membership.objects.get(role=Role.FINANCE)
        cutoff = tenant.local_today()
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
