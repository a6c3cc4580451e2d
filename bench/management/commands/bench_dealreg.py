"""`make bench-dealreg`: deal registration at scale.

Seeds one tenant with 5,000 partners, BENCH_ROWS registrations (default
1,000,000; a tenth of them waiting for a decision) and BENCH_ROWS/5 direct
opportunities, and beside it SMALL_TENANTS tenants with a hundredth of that
each (10,000 registrations, 50 partners), all in bulk SQL, then measures in
one run:

- the conflict check of new registrations (p50/p95, after WARMUP checks of
  other customers that are not counted), beside the same match written as
  one hand-made SQL query;
- the same check in the small tenants (p50/p95, after WARMUP checks), which
  shares the database and its indexes with the large one;
- the portal's registration list and the admin changelist (p95 server time
  and query count, at two data sizes to show the count does not grow);
- the SLA sweep with 100,000 open registrations.

Run it on its own database (the Makefile uses PRM_DB_NAME=prm_bench): it
replaces the bench tenant's data each time.
"""

import os
import statistics
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled

from bench.dealreg_seed import SMALL_SHARE, SMALL_TENANTS, SUFFIXES, Seeder
from dealreg import services
from dealreg.conflicts import _set_threshold, find_conflicts, match
from dealreg.models import DealRegistration, DealRegSettings, ProductLine
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope

WARMUP = 20  # conflict checks run before the measured ones, not counted


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Command(BaseCommand):
    help = "Seed a large deal registration data set and print the performance figures."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rows", type=int, default=int(os.environ.get("BENCH_ROWS", 1_000_000))
        )
        parser.add_argument("--partners", type=int, default=5000)
        parser.add_argument("--samples", type=int, default=200)
        parser.add_argument("--requests", type=int, default=60)
        parser.add_argument("--reuse", action="store_true", help="Keep already seeded data.")

    def handle(self, *args, **opts):
        if not connection.settings_dict["NAME"].startswith("prm_bench"):
            raise CommandError("Run the benchmark on its own database: PRM_DB_NAME=prm_bench.")
        rows = opts["rows"]
        with scopes_disabled():
            tenant = Tenant.objects.filter(slug="bench").first()
            small = list(Tenant.objects.filter(slug__startswith="bench-small-").order_by("slug"))
        seeded = False
        if tenant is None or len(small) != SMALL_TENANTS or not opts["reuse"]:
            tenant, small = Seeder(self.log).seed(rows, opts["partners"])
            seeded = True
        results = {}
        with tenant_scope(tenant):
            steps = [
                lambda: self.bench_conflicts(tenant, opts["samples"]),
                lambda: self.bench_pages(tenant, opts["requests"]),
                lambda: self.bench_sla(tenant),
            ]
            for step in steps:
                results.update(self.run_step(step))
        results.update(self.run_step(lambda: self.bench_small_conflicts(small, opts["samples"])))
        self.report(rows, seeded, results)

    def run_step(self, step) -> dict:
        figures = step()
        self.log("  " + ", ".join(f"{k}={v:.2f}" for k, v in figures.items()))
        return figures

    # --- seeding ------------------------------------------------------------

    def log(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    # --- measurements --------------------------------------------------------------

    def bench_conflicts(self, tenant, samples: int) -> dict:
        member = Membership.objects.select_related("user", "partner").get(role=Role.PARTNER_USER)
        products = list(ProductLine.objects.all()[:2])
        # The same customers every run and every seed: ordered by code, not
        # by creation time (shared by a thousand rows each, so the rows'
        # physical order picked which customers were checked).
        customers = list(
            DealRegistration.objects.filter(status="approved")
            .exclude(partner=member.partner)
            .order_by("code")
            .values_list("customer_name", flat=True)[: samples * 3]
        )
        # Measured warm, as the pages are: checks of WARMUP other customers
        # first, not counted, bring the searched tables into PostgreSQL's
        # buffer cache, where a running system keeps them (the seed and the
        # other measurements leave it full of other pages).
        warmup = [(None, name) for name in customers[1 : WARMUP * 3 : 3]]
        measured = list(enumerate(customers[::3][:samples]))
        check_ms, orm_ms, sql_ms, matches = [], [], [], []
        settings_row = DealRegSettings.for_tenant(tenant)
        # The registrations made here are undone by rolling back one
        # transaction around all of them, not one per check: psycopg drops a
        # connection's prepared statements at every rollback, and the match
        # is one (a worker's checks commit, so it keeps it).
        with transaction.atomic():
            for i, name in warmup + measured:
                counted = i is not None
                with transaction.atomic():
                    registration = self.submit_new(tenant, member, products, name, i or 0)
                    started = time.perf_counter()
                    found = find_conflicts(registration)
                    check = (time.perf_counter() - started) * 1000
                    started = time.perf_counter()
                    _set_threshold(settings_row.name_similarity_threshold)
                    match(registration)
                    orm = (time.perf_counter() - started) * 1000
                    started = time.perf_counter()
                    self.conflicts_sql(registration, settings_row.name_similarity_threshold)
                    sql = (time.perf_counter() - started) * 1000
                if counted:
                    check_ms.append(check)
                    orm_ms.append(orm)
                    sql_ms.append(sql)
                    matches.append(len(found))
            transaction.set_rollback(True)
        return {
            "conflict_p50_ms": statistics.median(check_ms),
            "conflict_p95_ms": pct(check_ms, 95),
            "match_p50_ms": statistics.median(orm_ms),
            "match_p95_ms": pct(orm_ms, 95),
            "sql_p50_ms": statistics.median(sql_ms),
            "sql_p95_ms": pct(sql_ms, 95),
            "conflict_matches_avg": statistics.mean(matches),
        }

    def submit_new(self, tenant, member, products, name: str, i: int) -> DealRegistration:
        """A new registration of the customer ``name`` as ``member``: the
        name as it is or with a legal form (by ``i``), with its web domain
        one time in three."""
        variant = name if i % 2 else f"{name} {SUFFIXES[i % len(SUFFIXES)]}".strip()
        return services.submit(
            tenant=tenant,
            by=member,
            given=services.RegistrationInput(
                data={
                    "customer_name": variant,
                    "customer_domain": "" if i % 3 else name.lower().replace(" ", "-") + ".example",
                    "customer_country": "US",
                    "estimated_value": Decimal("10000"),
                    "currency": "USD",
                    "expected_close_date": timezone.localdate() + timedelta(days=30),
                },
                product_lines=products,
            ),
            client_token=uuid.uuid4(),
        )

    def bench_small_conflicts(self, tenants: list[Tenant], samples: int) -> dict:
        """The conflict check in the small tenants, which share the tables
        and their indexes with the large one: new registrations of their
        own customers, the tenants taking turns, measured as in
        ``bench_conflicts`` (warm, WARMUP uncounted checks first, all
        rolled back at the end)."""
        per_tenant = -(-samples // len(tenants))  # rounded up
        sides = []
        for tenant in tenants:
            with tenant_scope(tenant):
                member = Membership.objects.select_related("user", "partner").get(
                    role=Role.PARTNER_USER
                )
                products = list(ProductLine.objects.all()[:2])
                customers = list(
                    DealRegistration.objects.filter(status="approved")
                    .exclude(partner=member.partner)
                    .order_by("code")
                    .values_list("customer_name", flat=True)[: (per_tenant + WARMUP) * 3]
                )
            sides.append((tenant, member, products, customers))
        warmup = [(None, k % len(sides), 1 + 3 * (k // len(sides))) for k in range(WARMUP)]
        measured = [(j, j % len(sides), 3 * (j // len(sides))) for j in range(samples)]
        check_ms, matches = [], []
        with transaction.atomic():
            for i, side, customer in warmup + measured:
                tenant, member, products, customers = sides[side]
                name = customers[customer % len(customers)]
                with tenant_scope(tenant), transaction.atomic():
                    registration = self.submit_new(tenant, member, products, name, i or 0)
                    started = time.perf_counter()
                    found = find_conflicts(registration)
                    check = (time.perf_counter() - started) * 1000
                if i is not None:
                    check_ms.append(check)
                    matches.append(len(found))
            transaction.set_rollback(True)
        return {
            "small_tenant_conflict_p50_ms": statistics.median(check_ms),
            "small_tenant_conflict_p95_ms": pct(check_ms, 95),
            "small_tenant_matches_avg": statistics.mean(matches),
        }

    def conflicts_sql(self, registration, threshold) -> list:
        """The same match as dealreg.conflicts.find_conflicts, as one query
        (registrations and direct opportunities, product overlap, scores),
        without storing the result."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(threshold)]
            )
            cursor.execute(
                """
                WITH own AS (
                    SELECT productline_id FROM dealreg_dealregistration_product_lines
                    WHERE dealregistration_id = %(id)s
                ), candidate AS (
                    SELECT c.registration_id AS id FROM dealreg_activeclaim c
                    WHERE c.tenant_id = %(tenant)s AND c.customer_name_normalized %% %(name)s
                    UNION
                    SELECT d.id FROM dealreg_dealregistration d
                    WHERE %(domain)s <> '' AND d.tenant_id = %(tenant)s
                      AND d.customer_domain = %(domain)s)
                SELECT 'registration', r.id, similarity(r.customer_name_normalized, %(name)s),
                       r.customer_domain = %(domain)s
                FROM candidate JOIN dealreg_dealregistration r ON r.id = candidate.id
                WHERE r.tenant_id = %(tenant)s AND r.partner_id <> %(partner)s AND r.id <> %(id)s
                  AND r.status IN ('submitted', 'more_info_requested', 'approved')
                  AND EXISTS (SELECT 1 FROM dealreg_dealregistration_product_lines x
                              WHERE x.dealregistration_id = r.id
                                AND x.productline_id IN (SELECT productline_id FROM own))
                UNION ALL
                SELECT 'opportunity', o.id, similarity(o.customer_name_normalized, %(name)s),
                       o.customer_domain = %(domain)s
                FROM dealreg_directopportunity o
                WHERE o.tenant_id = %(tenant)s
                  AND o.stage IN ('prospecting', 'qualification', 'proposal', 'negotiation')
                  AND (o.customer_name_normalized %% %(name)s
                       OR (%(domain)s <> '' AND o.customer_domain = %(domain)s))
                  AND (NOT EXISTS (SELECT 1 FROM dealreg_directopportunity_product_lines y
                                   WHERE y.directopportunity_id = o.id)
                       OR EXISTS (SELECT 1 FROM dealreg_directopportunity_product_lines y
                                  WHERE y.directopportunity_id = o.id
                                    AND y.productline_id IN (SELECT productline_id FROM own)))
                """,
                {
                    "id": registration.pk,
                    "tenant": registration.tenant_id,
                    "partner": registration.partner_id,
                    "name": registration.customer_name_normalized,
                    "domain": registration.customer_domain,
                },
            )
            return cursor.fetchall()

    def time_page(self, client: Client, url: str, requests: int) -> tuple[float, int]:
        client.get(url)  # warm up
        times, counts = [], []
        for _ in range(requests):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")
            counts.append(len(queries.captured_queries))
        return pct(times, 95), max(counts)

    def bench_pages(self, tenant, requests: int) -> dict:
        host = f"{tenant.slug}.localhost"
        results = {}
        partner_client = Client(HTTP_HOST=host)
        partner_client.force_login(
            User.objects.get(email="partner@bench.example"),
            backend="prm.tenancy.auth.TenantAuthenticationBackend",
        )
        admin_client = Client(HTTP_HOST=host)
        admin_client.force_login(
            User.objects.get(email="cm@bench.example"),
            backend="prm.tenancy.auth.TenantAuthenticationBackend",
        )
        pages = {
            "portal_list": (partner_client, "/deals/"),
            "portal_list_filtered": (partner_client, "/deals/?status=approved&q=a"),
            "admin_list": (admin_client, "/admin/dealreg/dealregistration/"),
            "admin_list_filtered": (
                admin_client,
                "/admin/dealreg/dealregistration/?status__exact=submitted",
            ),
        }
        for key, (client, url) in pages.items():
            p95, queries = self.time_page(client, url, requests)
            results[f"{key}_p95_ms"] = p95
            results[f"{key}_queries"] = queries
        return results

    def bench_sla(self, tenant) -> dict:
        from dealreg import sla

        now = timezone.now()
        open_count = DealRegistration.objects.filter(status__in=DealRegistration.PENDING).count()
        # What a sweep running every minute finds: the checks that came due
        # since the last run (the seed spreads them over a week of minutes).
        due = DealRegistration.objects.filter(sla_next_check_at__lte=now).count()
        with transaction.atomic():
            started = time.perf_counter()
            sla.sweep(tenant, now=now)
            elapsed = time.perf_counter() - started
            transaction.set_rollback(True)
        return {"sla_sweep_s": elapsed, "sla_open": open_count, "sla_due": due}

    def report(self, rows: int, seeded: bool, r: dict) -> None:
        # The ratio compares like with like: the ORM match (what the check
        # asks the database) against the same match as one hand-made query.
        ratio = r["match_p95_ms"] / r["sql_p95_ms"] if r["sql_p95_ms"] else float("inf")
        lines = [
            "",
            f"Deal registration benchmark: {rows:,} registrations, and "
            f"{SMALL_TENANTS} tenants with {max(1, rows // SMALL_SHARE):,} each"
            + ("" if seeded else " (reused data)"),
            f"{'measure':<44}{'value':>14}{'target':>14}",
            f"{'conflict check p50 (ms)':<44}{r['conflict_p50_ms']:>14.2f}",
            f"{'conflict check p95 (ms)':<44}{r['conflict_p95_ms']:>14.2f}{'<= 20':>14}",
            f"{'  of which the ORM match p50 (ms)':<44}{r['match_p50_ms']:>14.2f}",
            f"{'  of which the ORM match p95 (ms)':<44}{r['match_p95_ms']:>14.2f}",
            f"{'hand-made SQL p50 (ms)':<44}{r['sql_p50_ms']:>14.2f}",
            f"{'hand-made SQL p95 (ms)':<44}{r['sql_p95_ms']:>14.2f}",
            f"{'ORM match / hand-made SQL (p95)':<44}{ratio:>14.2f}{'<= 1.5':>14}",
            f"{'matches per check (mean)':<44}{r['conflict_matches_avg']:>14.1f}",
            f"{f'small tenants ({SMALL_TENANTS}): conflict check p50 (ms)':<44}"
            f"{r['small_tenant_conflict_p50_ms']:>14.2f}",
            f"{f'small tenants ({SMALL_TENANTS}): conflict check p95 (ms)':<44}"
            f"{r['small_tenant_conflict_p95_ms']:>14.2f}{'<= 5':>14}",
            f"{'small tenants: matches per check (mean)':<44}"
            f"{r['small_tenant_matches_avg']:>14.1f}",
        ]
        for key in ("portal_list", "portal_list_filtered", "admin_list", "admin_list_filtered"):
            lines.append(f"{key + ' p95 (ms)':<44}{r[key + '_p95_ms']:>14.2f}{'<= 100':>14}")
            lines.append(f"{key + ' queries':<44}{r[key + '_queries']:>14d}")
        lines.append(
            f"{'open registrations / checks due now':<44}{r['sla_open']:>8,}/{r['sla_due']:<5,}"
        )
        lines.append(
            f"{'SLA sweep over ' + format(r['sla_open'], ',') + ' open (s)':<44}"
            f"{r['sla_sweep_s']:>14.3f}{'<= 1':>14}"
        )
        portal = max(r["portal_list_p95_ms"], r["portal_list_filtered_p95_ms"])
        admin = max(r["admin_list_p95_ms"], r["admin_list_filtered_p95_ms"])
        lines.append(
            f"RESULT conflict_p95_ms={r['conflict_p95_ms']:.2f} conflict_vs_sql={ratio:.2f} "
            f"portal_list_p95_ms={portal:.2f} admin_list_p95_ms={admin:.2f} "
            f"sla_sweep_s={r['sla_sweep_s']:.3f} "
            f"small_tenant_conflict_p95_ms={r['small_tenant_conflict_p95_ms']:.2f}"
        )
        self.stdout.write("\n".join(lines))
