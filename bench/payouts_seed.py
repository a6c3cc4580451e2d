"""The incentives benchmark's data (``make bench-payouts``): one tenant with
its partners, tiers, regions, product lines, three plans and BENCH_ROWS won
deals over 18 months, seeded in bulk SQL, and the ledger tables the
measurements empty."""

import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from dealreg.models import DealRegistration, ProductLine
from incentives import periods, plans
from incentives.models import (
    Bracket,
    ExchangeRate,
    IncentiveSettings,
    Plan,
    PlanVersion,
)
from partners.models import Partner, Region, Tier
from partners.normalize import normalize_name
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


class Seeder:
    """Seeds the benchmark's tenant, reporting progress through ``log``."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

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
            # The payout run's second pair of eyes (four eyes on payout runs).
            Membership.objects.create(
                tenant=tenant,
                user=User.objects.create_user(
                    email="finance.checker@bench.example", password=PASSWORD
                ),
                role=Role.FINANCE,
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
