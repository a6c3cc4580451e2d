"""The tier qualification benchmark's data (``make bench-tiers``): one tenant
with 5,000 partners on a four-tier ladder, their people, 1,000,000
registrations over two years, 50,000 certification records, exchange rates
for EUR and GBP, a program agreement in two versions with its acceptances,
onboarding plans and a published criteria version whose thresholds spread
the partners over all four tiers.

Each partner has a level (0-3, about 40/30/20/10 %) that scales its deals,
its people and its certifications, with noise, so the criteria sort it near
its level without every partner of a level landing in the same tier. The
partners start in tiers drawn independently of their level: the first
evaluation moves many of them (upgrades at once, downgrades into grace).
Rows are written in bulk SQL (``generate_series`` over a table of the
partners' draws), so a seed takes a few minutes; the same size is kept
(``Seeder.seeded``) and measured again without a new seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection, transaction

from incentives.models import ExchangeRate
from onboarding.models import Agreement, AgreementVersion, Certification
from partners.models import Partner, Tier, TierChange
from partners.normalize import normalize_name
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope
from program.models import CriteriaVersion, QualificationSettings, TierCriterion, TierTarget

SLUG = "bench-tiers"
MAIL = "bench-tiers.example"
SEED = 19
TIERS = [("Registered", 1), ("Silver", 2), ("Gold", 3), ("Platinum", 4)]
LEVEL_SHARES = [0.4, 0.3, 0.2, 0.1]
# Per level: registrations, people and certification records (relative).
DEALS = np.array([60, 140, 280, 520])
PEOPLE = np.array([3, 5, 8, 13])
RECORDS = np.array([3, 7, 12, 20])
Kind = TierCriterion.Kind

# Tier: (counted minimum, [(kind, threshold, required, certification code)]).
CRITERIA = {
    "Silver": (
        2,
        [
            (Kind.WON_REVENUE, "300000", True, None),
            (Kind.APPROVED, "40", False, None),
            (Kind.CERTIFIED, "1", False, "cloud-architect"),
            (Kind.CERTIFIED, "1", False, "sales-pro"),
            (Kind.PLAN, "0", False, None),
        ],
    ),
    "Gold": (
        2,
        [
            (Kind.WON_REVENUE, "700000", True, None),
            (Kind.AGREEMENTS, "0", True, None),
            (Kind.CERTIFIED, "3", True, "cloud-architect"),
            (Kind.APPROVED, "90", False, None),
            (Kind.CERTIFIED, "2", False, "sales-pro"),
            (Kind.PLAN, "0", False, None),
        ],
    ),
    "Platinum": (
        1,
        [
            (Kind.WON_REVENUE, "1400000", True, None),
            (Kind.AGREEMENTS, "0", True, None),
            (Kind.CERTIFIED, "5", True, "cloud-architect"),
            (Kind.CERTIFIED, "3", True, "sales-pro"),
            (Kind.APPROVED, "170", False, None),
            (Kind.PLAN, "0", False, None),
        ],
    ),
}


@dataclass(frozen=True)
class Size:
    partners: int = 5000
    registrations: int = 1_000_000
    records: int = 50_000


def scaled(weights: np.ndarray, total: int) -> np.ndarray:
    """Integer counts proportional to ``weights`` summing to ``total``."""
    raw = weights / weights.sum() * total
    counts = np.floor(raw).astype(np.int64)
    short = total - int(counts.sum())
    counts[np.argsort(raw - counts)[::-1][:short]] += 1
    return counts


class Seeder:
    """Seeds the benchmark's tenant, reporting progress through ``log``."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

    def seeded(self, size: Size) -> Tenant | None:
        """The tenant of an earlier seed of the same size, if it is complete."""
        tenant = Tenant.objects.filter(slug=SLUG).first()
        if tenant is None:
            return None
        with tenant_scope(tenant):
            from dealreg.models import DealRegistration
            from onboarding.models import TrainingRecord

            if (
                Partner.objects.count() == size.partners
                and DealRegistration.objects.count() == size.registrations
                and TrainingRecord.objects.count() == size.records
                and CriteriaVersion.objects.filter(status="published").exists()
            ):
                return tenant
        return None

    def seed(self, size: Size, *, today: date) -> Tenant:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            # A dedicated database: clearing it is quicker than deleting.
            cursor.execute(
                "TRUNCATE incentives_ledgerentry, incentives_dealaccrualstate, "
                "tenancy_tenant, tenancy_user CASCADE"
            )
        tenant = Tenant.objects.create(
            slug=SLUG, name="Bench Tiers", timezone="America/New_York", base_currency="USD"
        )
        with tenant_scope(tenant), transaction.atomic():
            tiers = {
                name: Tier.objects.create(tenant=tenant, name=name, rank=rank)
                for name, rank in TIERS
            }
            certs = {
                "cloud-architect": Certification.objects.create(
                    tenant=tenant,
                    code="cloud-architect",
                    name="Cloud Architect",
                    validity_years=2,
                    functions=["technical", "presales"],
                ),
                "sales-pro": Certification.objects.create(
                    tenant=tenant,
                    code="sales-pro",
                    name="Sales Professional",
                    validity_years=1,
                    functions=["sales"],
                ),
            }
            levels = self.seed_partners(tenant, size, tiers, today)
            self.log(f"seed: {size.partners:,} partners ({time.perf_counter() - started:.1f}s)")
            self.seed_draws(tenant, size, levels)
            self.seed_people(tenant, today)
            self.seed_records(tenant, certs, today)
            self.log(f"seed: people, certifications ({time.perf_counter() - started:.1f}s)")
            self.seed_rates(tenant, today)
            self.seed_agreements(tenant, today)
            self.seed_plans(tenant, today)
            self.seed_criteria(tenant, tiers, certs)
        self.seed_registrations(tenant, today)
        self.log(f"seed: registrations ({time.perf_counter() - started:.1f}s)")
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bt_partners, bt_people")
            for table in (
                "dealreg_dealregistration",
                "dealreg_activeclaim",
                "onboarding_trainingrecord",
                "tenancy_membership",
                "tenancy_user",
                "partners_partner",
                "onboarding_acceptance",
                "onboarding_plan",
            ):
                cursor.execute(f"VACUUM (ANALYZE) {table}")
        self.log(f"seed: done, vacuumed ({time.perf_counter() - started:.1f}s)")
        return tenant

    def seed_partners(self, tenant: Tenant, size: Size, tiers, today: date) -> np.ndarray:
        rng = np.random.default_rng(SEED)
        ops = User.objects.create_user(email=f"ops@{MAIL}")
        Membership.objects.create(tenant=tenant, user=ops, role=Role.OPS_ADMIN)
        managers = []
        for k in range(20):
            cm = User.objects.create_user(email=f"cm{k:02d}@{MAIL}")
            Membership.objects.create(tenant=tenant, user=cm, role=Role.CHANNEL_MANAGER)
            managers.append(cm)
        QualificationSettings.for_tenant(tenant)
        levels = rng.choice(4, size=size.partners, p=LEVEL_SHARES)
        ladder = [tiers[name] for name, _ in TIERS]
        start = rng.choice(4, size=size.partners, p=[0.35, 0.3, 0.2, 0.15])
        # 3 % of the partners are not active (suspended or terminated).
        status = np.where(
            rng.random(size.partners) < 0.03, Partner.Status.SUSPENDED, Partner.Status.ACTIVE
        )
        partners = Partner.objects.bulk_create(
            (
                Partner(
                    tenant=tenant,
                    name=f"Tier Partner {i:05d}",
                    normalized_name=normalize_name(f"Tier Partner {i:05d}"),
                    domain=f"p{i:05d}.{MAIL}",
                    partner_type=Partner.Type.RESELLER if i % 4 else Partner.Type.MSP,
                    country="US",
                    tier=ladder[start[i]],
                    status=status[i],
                    channel_manager=managers[i % len(managers)],
                )
                for i in range(size.partners)
            ),
            batch_size=1000,
        )
        TierChange.objects.bulk_create(
            (
                TierChange(
                    tenant=tenant,
                    partner=p,
                    tier=p.tier,
                    effective_on=today - timedelta(days=800),
                    reason=TierChange.Reason.JOINED,
                )
                for p in partners
            ),
            batch_size=1000,
        )
        self.partner_ids = [p.pk for p in partners]
        return levels

    def seed_draws(self, tenant: Tenant, size: Size, levels: np.ndarray) -> None:
        """A temporary table of each partner's draws: level, registrations,
        people, certification records, how it stands with the agreement and
        its onboarding plan."""
        rng = np.random.default_rng(SEED + 1)
        noise = lambda: rng.lognormal(0.0, 0.35, size=len(levels))  # noqa: E731
        deals = scaled(DEALS[levels] * noise(), size.registrations)
        people = np.maximum(1, np.round(PEOPLE[levels] * noise())).astype(int)
        records = scaled(RECORDS[levels] * noise(), size.records)
        # Agreement: 0 never accepted, 1 accepted the first version only, 2 both.
        accepted = np.where(
            rng.random(len(levels)) < 0.04 + 0.02 * (3 - levels),
            0,
            np.where(rng.random(len(levels)) < 0.88, 2, 1),
        )
        # Plan: 0 none, 1 in progress, 2 completed (lower levels still onboarding).
        plan = np.where(
            rng.random(len(levels)) < 0.5 - 0.12 * levels,
            1,
            np.where(rng.random(len(levels)) < 0.5, 2, 0),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bt_partners (i int, id uuid, level int, deals int, "
                "first_deal bigint, people int, records int, accepted int, plan int)"
            )
            first = np.concatenate([[0], np.cumsum(deals)[:-1]])
            cursor.executemany(
                "INSERT INTO bt_partners VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        i,
                        self.partner_ids[i],
                        int(levels[i]),
                        int(deals[i]),
                        int(first[i]),
                        int(people[i]),
                        int(records[i]),
                        int(accepted[i]),
                        int(plan[i]),
                    )
                    for i in range(len(levels))
                ],
            )

    def seed_people(self, tenant: Tenant, today: date) -> None:
        """Each partner's people: the first a partner admin, the others
        partner users, one in twenty of them no longer active."""
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bt_people AS SELECT p.i AS pi, p.id AS partner_id, k, "
                "gen_random_uuid() AS user_id, gen_random_uuid() AS membership_id "
                "FROM bt_partners p CROSS JOIN LATERAL generate_series(0, p.people - 1) AS k"
            )
            cursor.execute(
                "INSERT INTO tenancy_user (id, password, is_superuser, email, full_name, phone, "
                "is_active, date_joined) SELECT user_id, '!', false, "
                "'person' || k || '@p' || lpad(pi::text, 5, '0') || '.' || %s, "
                "'Person ' || k || ' of partner ' || pi, '', true, now() FROM bt_people",
                [MAIL],
            )
            cursor.execute(
                "INSERT INTO tenancy_membership (id, tenant_id, user_id, partner_id, role, title, "
                "is_active, created_at) SELECT membership_id, %s, user_id, partner_id, "
                "CASE WHEN k = 0 THEN %s ELSE %s END, '', "
                "k = 0 OR (hashint4(pi * 31 + k) & 2147483647) %% 20 <> 0, now() FROM bt_people",
                [tenant.pk, Role.PARTNER_ADMIN, Role.PARTNER_USER],
            )

    def seed_records(self, tenant: Tenant, certs, today: date) -> None:
        """Certification records: record k of a partner goes to person
        k mod people, alternating the two certifications; each round of
        records is about a year older than the one before, so older rounds
        have expired (a year's validity sooner than two years'), and some
        of the newest expire within weeks. One in twelve waits for
        confirmation or was not confirmed."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO onboarding_trainingrecord (id, tenant_id, partner_id, membership_id,
                    certification_id, completed_on, expires_on, score, certificate_id, source,
                    status, note, evidence, evidence_name, evidence_type, recorded_at, decided_at)
                SELECT gen_random_uuid(), %(tenant)s, p.id, e.membership_id,
                    CASE WHEN r.c = 0 THEN %(a)s::uuid ELSE %(b)s::uuid END, r.done,
                    (r.done + CASE WHEN r.c = 0 THEN interval '2 years'
                                   ELSE interval '1 year' END)::date,
                    70 + r.h %% 30, 'CERT-' || p.i || '-' || g.k, 'import',
                    CASE WHEN r.h %% 12 = 0 THEN 'pending' WHEN r.h %% 12 = 1 THEN 'rejected'
                         ELSE 'confirmed' END,
                    '', '', '', '', now(), now()
                FROM bt_partners p CROSS JOIN LATERAL generate_series(0, p.records - 1) AS g(k)
                CROSS JOIN LATERAL (SELECT g.k %% p.people AS person,
                    (g.k / p.people) %% 2 AS c, g.k / (2 * p.people) AS round,
                    hashint4(p.i * 7919 + g.k) & 2147483647 AS h) AS q
                CROSS JOIN LATERAL (SELECT q.c, q.h,
                    %(today)s::date - (q.round * 380 + q.h %% 350) AS done) AS r
                JOIN bt_people e ON e.pi = p.i AND e.k = q.person
                """,
                {
                    "tenant": tenant.pk,
                    "a": certs["cloud-architect"].pk,
                    "b": certs["sales-pro"].pk,
                    "today": today,
                },
            )

    def seed_rates(self, tenant: Tenant, today: date) -> None:
        """Monthly EUR and GBP rates over the last 26 months."""
        rows = []
        month = date(today.year, today.month, 1)
        for m in range(26):
            for currency, base in (("EUR", Decimal("1.08")), ("GBP", Decimal("1.27"))):
                rate = base + Decimal((m * 7) % 11 - 5) / 100
                rows.append(
                    ExchangeRate(tenant=tenant, currency=currency, valid_from=month, rate=rate)
                )
            month = (month - timedelta(days=1)).replace(day=1)
        ExchangeRate.objects.bulk_create(rows)

    def seed_agreements(self, tenant: Tenant, today: date) -> None:
        """The program agreement: a first version two years old, a second in
        force for 120 days with 90 days to accept it (a partner that accepted
        only the first is held back again), and each partner's acceptances."""
        agreement = Agreement.objects.create(tenant=tenant, title="Partner program agreement")
        v1 = AgreementVersion.objects.create(
            tenant=tenant,
            agreement=agreement,
            number=1,
            body="Terms.",
            content_sha256="1" * 64,
            effective_on=today - timedelta(days=730),
        )
        v2 = AgreementVersion.objects.create(
            tenant=tenant,
            agreement=agreement,
            number=2,
            body="New terms.",
            content_sha256="2" * 64,
            effective_on=today - timedelta(days=120),
            grace_days=90,
        )
        with connection.cursor() as cursor:
            for version, least in ((v1, 1), (v2, 2)):
                cursor.execute(
                    "INSERT INTO onboarding_acceptance (id, tenant_id, version_id, partner_id, "
                    "user_id, typed_name, accepted_at, user_agent, content_sha256) "
                    "SELECT gen_random_uuid(), %s, %s, p.id, e.user_id, 'Person 0', now(), '', %s "
                    "FROM bt_partners p JOIN bt_people e ON e.pi = p.i AND e.k = 0 "
                    "WHERE p.accepted >= %s",
                    [tenant.pk, version.pk, version.content_sha256, least],
                )

    def seed_plans(self, tenant: Tenant, today: date) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO onboarding_plan (id, tenant_id, partner_id, name, status, started_at, "
                "target_on, completed_at, last_progress_at) "
                "SELECT gen_random_uuid(), %s, p.id, 'Onboarding', "
                "CASE WHEN p.plan = 1 THEN 'active' ELSE 'completed' END, "
                "now() - interval '200 days', %s, "
                "CASE WHEN p.plan = 2 THEN now() - interval '20 days' END, now() "
                "FROM bt_partners p WHERE p.plan > 0",
                [tenant.pk, today + timedelta(days=30)],
            )

    def seed_criteria(self, tenant: Tenant, tiers, certs) -> None:
        version = CriteriaVersion.objects.create(
            tenant=tenant, number=1, status=CriteriaVersion.Status.PUBLISHED
        )
        for name, (minimum, criteria) in CRITERIA.items():
            target = TierTarget.objects.create(
                tenant=tenant, version=version, tier=tiers[name], counted_minimum=minimum
            )
            TierCriterion.objects.bulk_create(
                TierCriterion(
                    tenant=tenant,
                    target=target,
                    kind=kind,
                    threshold=Decimal(threshold),
                    required=required,
                    certification=certs[code] if code else None,
                )
                for kind, threshold, required, code in criteria
            )

    def seed_registrations(self, tenant: Tenant, today: date) -> None:
        """Each partner's registrations over the last two years: 8 % waiting
        for a decision, 20 % approved, 36 % won (1 % of them reversed), 20 %
        lost, 12 % rejected, 4 % withdrawn; 85 % in USD, 10 % EUR, 5 % GBP;
        won deals close 10-120 days after the decision (not after today)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
                "('dealreg_dealregistration', 'dealreg_activeclaim') "
                "AND indexdef NOT LIKE '%%UNIQUE%%'"
            )
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
            cursor.execute(
                """
                INSERT INTO dealreg_dealregistration (
                    id, tenant_id, code, partner_id, submitted_by_id, customer_name,
                    customer_name_normalized, customer_domain, customer_country,
                    customer_contact_name, customer_contact_email, customer_contact_phone,
                    estimated_value, currency, expected_close_date, description, custom_data,
                    status, conflict_state, submitted_at, sla_due_at, sla_cycle,
                    decided_at, decision_reason, sla_met, extension_count,
                    won_amount, won_currency, won_close_date, lost_reason, reversal_reason,
                    outcome_recorded_at, created_at, updated_at)
                SELECT gen_random_uuid(), %(tenant)s,
                    'DR-' || lpad(upper(to_hex(p.first_deal + g.k)), 8, '0'), p.id, e.user_id,
                    'Customer ' || (p.first_deal + g.k), 'customer ' || (p.first_deal + g.k), '',
                    'US', '', '', '', s.amount, s.currency, %(today)s::date + 30, '', '{}',
                    s.status, 'clear', s.at, s.at + interval '2 days', 1,
                    CASE WHEN s.status <> 'submitted' THEN s.decided END, '',
                    CASE WHEN s.status <> 'submitted' THEN true END, 0,
                    CASE WHEN s.status IN ('won', 'reversed') THEN s.amount END,
                    CASE WHEN s.status IN ('won', 'reversed') THEN s.currency ELSE '' END,
                    CASE WHEN s.status IN ('won', 'reversed') THEN s.closed END,
                    '', CASE WHEN s.status = 'reversed' THEN 'Customer cancelled' ELSE '' END,
                    CASE WHEN s.status IN ('won', 'reversed', 'lost') THEN s.decided END,
                    s.at, s.at
                FROM bt_partners p CROSS JOIN LATERAL generate_series(0, p.deals - 1) AS g(k)
                JOIN bt_people e ON e.pi = p.i AND e.k = 0
                CROSS JOIN LATERAL (
                    SELECT hashint4((p.first_deal + g.k)::int) & 2147483647 AS h) AS q
                CROSS JOIN LATERAL (SELECT
                    CASE WHEN q.h %% 100 < 8 THEN 'submitted' WHEN q.h %% 100 < 28 THEN 'approved'
                         WHEN q.h %% 100 < 63 THEN 'won' WHEN q.h %% 100 < 64 THEN 'reversed'
                         WHEN q.h %% 100 < 84 THEN 'lost' WHEN q.h %% 100 < 96 THEN 'rejected'
                         ELSE 'withdrawn' END AS status,
                    (2000 + (q.h / 100) %% 3600000 / 100.0)::numeric(14, 2) AS amount,
                    CASE WHEN (q.h / 7) %% 20 < 17 THEN 'USD' WHEN (q.h / 7) %% 20 < 19
                         THEN 'EUR' ELSE 'GBP' END AS currency,
                    now() - ((q.h / 13) %% 730) * interval '1 day'
                        - ((q.h / 17) %% 1440) * interval '1 minute' AS at,
                    least(now(), now() - ((q.h / 13) %% 730) * interval '1 day'
                        + (1 + (q.h / 19) %% 5) * interval '1 day') AS decided,
                    least(%(today)s::date, (now() - ((q.h / 13) %% 730) * interval '1 day')::date
                        + 10 + (q.h / 23) %% 110) AS closed) AS s
                """,
                {"tenant": tenant.pk, "today": today},
            )
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for _name, definition in indexes:
                cursor.execute(definition)
