"""The deal registration benchmark's data (``make bench-dealreg``): the bench
tenant with its partners, registrations and direct opportunities, and the
small tenants beside it, seeded in bulk SQL. Names are made of the word lists
below, so every seed is the same."""

import time
from collections.abc import Callable

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from dealreg.models import DealRegSettings, ProductLine
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

SMALL_TENANTS = 20  # beside the large tenant, each with a hundredth of its data
SMALL_SHARE = 100
PASSWORD = "bench-pass-2026"


class Seeder:
    """Seeds the benchmark's tenants, reporting progress through ``log``."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

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
