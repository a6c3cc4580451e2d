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

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled

from dealreg import services
from dealreg.conflicts import _set_threshold, find_conflicts, match
from dealreg.models import DealRegistration, DealRegSettings, ProductLine
from partners.models import Partner, Tier
from partners.normalize import normalize_name
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope

WORDS_A = [
    "acme",
    "apex",
    "arc",
    "atlas",
    "aurora",
    "beacon",
    "blue",
    "bright",
    "cedar",
    "cobalt",
    "crest",
    "delta",
    "echo",
    "ember",
    "falcon",
    "fusion",
    "global",
    "granite",
    "harbor",
    "helix",
    "horizon",
    "iron",
    "jade",
    "keystone",
    "lumen",
    "maple",
    "matrix",
    "meridian",
    "nexus",
    "north",
    "nova",
    "oak",
    "orbit",
    "peak",
    "pine",
    "pioneer",
    "pivot",
    "prime",
    "quantum",
    "radiant",
    "red",
    "river",
    "rock",
    "sage",
    "sierra",
    "silver",
    "sky",
    "solar",
    "spark",
    "sterling",
    "stone",
    "summit",
    "swift",
    "terra",
    "titan",
    "true",
    "union",
    "vertex",
    "vista",
    "wave",
    "west",
    "zenith",
    "alpine",
    "amber",
    "bold",
    "canyon",
]
WORDS_B = [
    "analytics",
    "bank",
    "biotech",
    "builders",
    "capital",
    "chemicals",
    "cloud",
    "consulting",
    "data",
    "design",
    "devices",
    "dynamics",
    "energy",
    "engineering",
    "foods",
    "freight",
    "games",
    "health",
    "holdings",
    "hotels",
    "industries",
    "insurance",
    "labs",
    "logistics",
    "media",
    "medical",
    "metals",
    "mining",
    "motors",
    "networks",
    "partners",
    "pharma",
    "power",
    "retail",
    "robotics",
    "security",
    "semiconductors",
    "shipping",
    "software",
    "solutions",
    "steel",
    "systems",
    "telecom",
    "textiles",
    "therapeutics",
    "transport",
    "travel",
    "ventures",
    "water",
    "wireless",
    "works",
]
SYLLABLES = [
    "ka",
    "ri",
    "zo",
    "ven",
    "tal",
    "mor",
    "bex",
    "qui",
    "lan",
    "dor",
    "sa",
    "fen",
    "gra",
    "lio",
    "pex",
    "tur",
    "vay",
    "nol",
    "ost",
    "ura",
    "kel",
    "mip",
    "zan",
    "bel",
    "cor",
    "vex",
    "ita",
    "nu",
    "ro",
    "sim",
    "tek",
    "ora",
    "hal",
    "jun",
    "bra",
    "del",
    "fio",
    "gor",
    "lum",
    "nex",
    "pra",
    "sol",
    "tiv",
    "wen",
    "yar",
]
SUFFIXES = ["Inc", "LLC", "Ltd", "GmbH", "Corp", "SA", "", "", "", ""]

WARMUP = 20  # conflict checks run before the measured ones, not counted
SMALL_TENANTS = 20  # beside the large tenant, each with a hundredth of its data
SMALL_SHARE = 100
PASSWORD = "bench-pass-2026"


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
            tenant, small = self.seed(rows, opts["partners"])
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

    def seed(self, rows: int, partner_count: int) -> tuple[Tenant, list[Tenant]]:
        """The large tenant and the small ones (their registrations and
        opportunities numbered after the large tenant's, so each tenant has
        customers of its own)."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            # A dedicated database: clearing every tenant and person is quick
            # (cascading through a million rows with the ORM is not). The
            # incentives tables that point at deals by statement-checked
            # references (not foreign keys) are named.
            cursor.execute(
                "TRUNCATE incentives_ledgerentry, incentives_dealaccrualstate, "
                "tenancy_tenant, tenancy_user CASCADE"
            )
        tenant, users, products = self.seed_tenant("bench", "Bench Corp", partner_count)
        small_rows = max(1, rows // SMALL_SHARE)
        loads = [(tenant, rows, 1, users, products)]
        small = []
        for k in range(SMALL_TENANTS):
            made, made_users, made_products = self.seed_tenant(
                f"bench-small-{k + 1:02d}",
                f"Small Vendor {k + 1:02d}",
                max(2, partner_count // SMALL_SHARE),
            )
            small.append(made)
            loads.append((made, small_rows, rows + 1 + k * small_rows, made_users, made_products))
        User.objects.update(password=make_password(PASSWORD))
        self.log(
            f"seed: {1 + SMALL_TENANTS} tenants, partners ({time.perf_counter() - started:.1f}s)"
        )
        self.seed_registrations(loads)
        self.log(f"seed: done in {time.perf_counter() - started:.1f}s")
        return tenant, small

    def seed_tenant(self, slug: str, name: str, partner_count: int):
        """A tenant with its people, product lines and partners: (tenant,
        users by role, product line ids)."""
        tenant = Tenant.objects.create(slug=slug, name=name, timezone="America/New_York")
        mail = "bench.example" if slug == "bench" else f"{slug}.bench.example"
        with tenant_scope(tenant), transaction.atomic():
            tier = Tier.objects.create(tenant=tenant, name="Gold", rank=3)
            products = [
                ProductLine.objects.create(tenant=tenant, name=f"Product {i}", code=f"p{i}")
                for i in range(10)
            ]
            users = {}
            for role, local in (
                (Role.OPS_ADMIN, "ops"),
                (Role.CHANNEL_MANAGER, "cm"),
                (Role.PARTNER_USER, "partner"),
            ):
                # Without a password: hashed once for all of them (see seed()).
                users[role] = User.objects.create_user(email=f"{local}@{mail}")
            partners = Partner.objects.bulk_create(
                Partner(
                    tenant=tenant,
                    name=f"Bench Partner {i:05d}",
                    normalized_name=normalize_name(f"Bench Partner {i:05d}"),
                    domain=f"partner{i:05d}.{mail}",
                    website=f"https://partner{i:05d}.{mail}",
                    partner_type=Partner.Type.RESELLER,
                    country="US",
                    tier=tier,
                    status=Partner.Status.ACTIVE,
                    channel_manager=users[Role.CHANNEL_MANAGER],
                )
                for i in range(partner_count)
            )
            Membership.objects.create(
                tenant=tenant, user=users[Role.OPS_ADMIN], role=Role.OPS_ADMIN
            )
            Membership.objects.create(
                tenant=tenant, user=users[Role.CHANNEL_MANAGER], role=Role.CHANNEL_MANAGER
            )
            Membership.objects.create(
                tenant=tenant,
                user=users[Role.PARTNER_USER],
                role=Role.PARTNER_USER,
                partner=partners[0],
            )
            DealRegSettings.for_tenant(tenant)
        return tenant, users, [p.pk for p in products]

    def seed_registrations(self, loads) -> None:
        """Registrations and opportunities for each (tenant, rows, first
        number, users, product line ids) of ``loads``: customers are
        numbered from the first number on, opportunities likewise (a fifth
        as many)."""
        started = time.perf_counter()
        # Company names as they are: a distinctive invented word (three
        # syllables of 48, about 110,000 of them) and a sector, sometimes a
        # place word: "Korvexita Logistics", "Zanubel Summit Foods".
        syllable = "(%(s)s::text[])[1 + (hashint4({seed}) & 2147483647) %% %(ns)s]"
        name_sql = (
            "initcap("
            + " || ".join(syllable.format(seed=f"n * {k} + {k * 7}") for k in (3, 5, 11))
            + " || CASE WHEN n %% 4 = 0 THEN ' ' || "
            "(%(a)s::text[])[1 + (hashint4(n * 13 + 5) & 2147483647) %% %(na)s] ELSE '' END"
            " || ' ' || (%(b)s::text[])[1 + (hashint4(n * 7 + 3) & 2147483647) %% %(nb)s])"
        )
        words = {
            "s": SYLLABLES,
            "ns": len(SYLLABLES),
            "a": WORDS_A,
            "na": len(WORDS_A),
            "b": WORDS_B,
            "nb": len(WORDS_B),
        }
        # One transaction: a failure leaves the indexes as they were.
        with transaction.atomic(), connection.cursor() as cursor:
            # Bulk load without the secondary indexes, then build them once.
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
                "('dealreg_dealregistration', 'dealreg_directopportunity', "
                "'dealreg_dealregistration_product_lines', 'dealreg_activeclaim') "
                "AND indexdef NOT LIKE '%%UNIQUE%%'"
            )
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
            for tenant, rows, first, users, product_ids in loads:
                params = {
                    **words,
                    "tenant": tenant.pk,
                    "cm": users[Role.CHANNEL_MANAGER].pk,
                    "submitter": users[Role.PARTNER_USER].pk,
                    "first": first,
                    "last": first + rows - 1,
                    "first_opp": (first - 1) // 5 + 1,
                    "last_opp": (first - 1) // 5 + rows // 5,
                    "products": product_ids,
                }
                self.seed_tenant_rows(cursor, name_sql, params)
            self.log(
                f"seed: {sum(load[1] for load in loads):,} registrations + "
                f"{sum(load[1] // 5 for load in loads):,} opportunities in {len(loads)} tenants "
                f"inserted ({time.perf_counter() - started:.1f}s)"
            )
            # Django's foreign keys are deferred; check them now so the
            # indexes can be built inside this transaction.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for _name, definition in indexes:
                cursor.execute(definition)
        self.log(f"seed: indexes rebuilt ({time.perf_counter() - started:.1f}s)")
        # What autovacuum does soon after a bulk load on a running system:
        # statistics, and the visibility map that lets index-only scans and
        # counts skip the table (measured without it, the first minutes after
        # a load are what the figures would show).
        with connection.cursor() as cursor:
            for table in (
                "dealreg_dealregistration",
                "dealreg_directopportunity",
                "dealreg_dealregistration_product_lines",
                "dealreg_directopportunity_product_lines",
                "dealreg_activeclaim",
            ):
                cursor.execute(f"VACUUM (ANALYZE) {table}")
        self.log(f"seed: vacuumed, analyzed ({time.perf_counter() - started:.1f}s)")

    def seed_tenant_rows(self, cursor, name_sql: str, params: dict) -> None:
        """One tenant's registrations (numbered first..last), their product
        lines and its opportunities (first_opp..last_opp)."""
        # Partners numbered by name, not by id (time-ordered, but random
        # within a millisecond): every seed gives each partner the same rows.
        cursor.execute(
            "CREATE TEMP TABLE bench_partners AS SELECT row_number() OVER (ORDER BY name) - 1"
            " AS i, id FROM partners_partner WHERE tenant_id = %(tenant)s",
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO dealreg_dealregistration (
                id, tenant_id, code, partner_id, submitted_by_id, customer_name,
                customer_name_normalized, customer_domain, customer_country,
                customer_contact_name, customer_contact_email, customer_contact_phone,
                estimated_value, currency, expected_close_date, description, custom_data,
                status, conflict_state, approver_id, submitted_at, sla_due_at, sla_cycle,
                sla_next_check_at, decided_at, decision_reason, sla_met, protected_until,
                extension_count, won_currency, lost_reason, reversal_reason, created_at,
                updated_at)
            SELECT gen_random_uuid(), %(tenant)s, 'DR-' || lpad(upper(to_hex(n)), 8, '0'),
                p.id, %(submitter)s, s.name, lower(s.name),
                replace(lower(s.name), ' ', '-') || '.example', 'US', '', '', '',
                (1000 + n %% 500000)::numeric(14,2), 'USD',
                current_date + (n %% 180), '', '{{}}'::jsonb,
                s.status, 'clear', %(cm)s, s.at, s.at + interval '2 days', 1,
                CASE WHEN s.status = 'submitted'
                     THEN now() + ((n / 10) %% 10000 - 10) * interval '1 minute' END,
                CASE WHEN s.status <> 'submitted' THEN s.at + interval '1 day' END,
                '', CASE WHEN s.status <> 'submitted' THEN true END,
                CASE WHEN s.status = 'approved' THEN current_date + (n %% 90) END,
                0, '', '', '', s.at, s.at
            FROM generate_series(%(first)s, %(last)s) AS n
            CROSS JOIN LATERAL (SELECT {name_sql} AS name,
                CASE WHEN n %% 10 = 0 THEN 'submitted' WHEN n %% 10 IN (1, 2) THEN 'approved'
                     WHEN n %% 10 IN (3, 4, 5) THEN 'won' WHEN n %% 10 = 6 THEN 'rejected'
                     ELSE 'lost' END AS status,
                now() - (n %% 720) * interval '1 hour' AS at) AS s
            JOIN bench_partners p ON p.i = n %% (SELECT count(*) FROM bench_partners)
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO dealreg_dealregistration_product_lines
                (dealregistration_id, productline_id)
            SELECT r.id, (%(products)s::uuid[])[1 + (hashtext(r.code) & 2147483647) %% 10]
            FROM dealreg_dealregistration r WHERE r.tenant_id = %(tenant)s
            """,
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO dealreg_directopportunity (
                id, tenant_id, external_id, customer_name, customer_name_normalized,
                customer_domain, customer_country, owner_name, owner_email, stage, amount,
                currency, close_date, imported_at)
            SELECT gen_random_uuid(), %(tenant)s, 'OPP-' || n, s.name, lower(s.name),
                replace(lower(s.name), ' ', '-') || '.example', 'US', 'Direct Rep', '',
                CASE WHEN n %% 3 = 0 THEN 'closed_won' ELSE 'negotiation' END,
                (5000 + n %% 100000)::numeric(14,2), 'USD', current_date + (n %% 90), now()
            FROM generate_series(%(first_opp)s, %(last_opp)s) AS n
            CROSS JOIN LATERAL (SELECT {name_sql.replace("n * ", "(n + 7919) * ")} AS name) s
            """,
            params,
        )
        cursor.execute("DROP TABLE bench_partners")

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
