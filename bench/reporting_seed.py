"""The reporting benchmark's data (``make bench-reporting``): one tenant with
BENCH_PARTNERS partners (5,000), BENCH_REGISTRATIONS deal registrations
(1,000,000) over the last two years and about BENCH_ENTRIES incentive
ledger entries (5,000,000), consistent the way the application would have
left them, loaded with PostgreSQL ``COPY``.

The program: six regions, four tiers, the five partner types, 30 channel
managers who each own partners mostly in one region; partner activity is
Pareto-skewed (a fifth of the partners bring about four fifths of the
registrations) and the better tiers hold the busiest partners. Registrations
follow a growing trend with quarter-end peaks; each is decided in business
hours on the tenant's calendar (a few wait on the partner for more
information: their timeline records it and the SLA clock pauses), then
approved or rejected, and approved ones are won, lost, withdrawn, expire
when their protection ends or are still open; some wins are corrected or
reversed later. About 5% are in EUR or GBP (EMEA partners). Some have
conflicts. The incentive program stacks commission plans (every partner, the
top tiers, one per partner type, one per region, one per product line) and
a SPIFF per product line, so the ledger's size follows from the deals: the
seed picks the product lines per deal so that accruals, corrections,
clawbacks and dispute adjustments plus monthly payouts come to about the
entries asked for. Payout runs are monthly (cutoff at month end), approved
and marked paid, with their lines and settlements (close-to-paid days).
See ``bench.reporting_deals`` and ``bench.reporting_ledger``.

Steps are recorded in ``bench_reporting_seed`` with the size asked for: a
seed of the same size is kept (``--fresh`` starts again), an interrupted
one goes on from its first unfinished step (each step is one transaction).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from dealreg.models import DealRegSettings, ProductLine
from incentives import plans
from incentives.models import ExchangeRate, IncentiveSettings, Plan, PlanVersion
from partners.models import Partner, Region, Tier
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope

from .reporting_copy import NULL, copy_rows, iso, lines, ms, to_utc, uuid7s

SLUG = "bench"
MAIL = "bench.example"
PASSWORD = "bench-pass-2026"
SEED = 20261206
WINDOW_DAYS = 730
REGIONS = [
    ("na", "North America", ["US", "CA"]),
    ("emea", "EMEA", ["GB", "DE", "FR", "NL"]),
    ("apac", "APAC", ["AU", "JP", "SG", "IN"]),
    ("latam", "LATAM", ["BR", "MX", "AR"]),
    ("dach", "DACH", ["DE", "AT", "CH"]),
    ("nordics", "Nordics", ["SE", "NO", "DK", "FI"]),
]
REGION_SHARE = [0.34, 0.2, 0.16, 0.1, 0.12, 0.08]
TIERS = [("Registered", 1), ("Silver", 2), ("Gold", 3), ("Platinum", 4)]
TYPES = [t.value for t in Partner.Type]
TYPE_SHARE = [0.45, 0.05, 0.2, 0.15, 0.15]
PRODUCT_LINES = [
    "Storage",
    "Compute",
    "Networking",
    "Security",
    "Backup",
    "Analytics",
    "Observability",
    "Identity",
    "Edge",
    "Collaboration",
    "Support",
    "Services",
]
CHANNEL_MANAGERS = 30
# Personas the benchmark signs in as (and a person may, with PASSWORD).
EXECUTIVE = f"executive@{MAIL}"
CHANNEL_MANAGER = f"cm01@{MAIL}"
PARTNER_ADMIN = f"partner.admin@{MAIL}"
MARKER = "bench_reporting_seed"


@dataclass(frozen=True)
class Size:
    partners: int
    registrations: int
    entries: int


class Seeder:
    """Seeds (or keeps) the benchmark's tenant, reporting through ``log``."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

    # --- Steps and the marker ----------------------------------------------------------

    def done_steps(self, size: Size) -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {MARKER} (step text PRIMARY KEY, size jsonb NOT NULL,"
                " seconds double precision NOT NULL, done_at timestamptz NOT NULL)"
            )
            cursor.execute(f"SELECT step, size FROM {MARKER}")
            rows = cursor.fetchall()
        wanted = asdict(size)
        sizes = {step: (s if isinstance(s, dict) else json.loads(s)) for step, s in rows}
        if any(s != wanted for s in sizes.values()):
            return {"<other size>"}
        return set(sizes)

    def seed(self, size: Size, *, fresh: bool = False) -> tuple[Tenant, dict]:
        """The seeded tenant and the seed's figures (steps' seconds)."""
        from .reporting_deals import seed_registrations
        from .reporting_ledger import seed_ledger

        steps: list[tuple[str, Callable[[Tenant, Size], dict]]] = [
            ("tenant", self.seed_tenant),
            ("registrations", seed_registrations),
            ("ledger", seed_ledger),
        ]
        done = self.done_steps(size)
        if fresh or "<other size>" in done or "tenant" not in done:
            self.clear()
            done = set()
        elif len(done) == len(steps):
            self.log(f"seed: kept (already seeded with {size})")
        started = time.perf_counter()
        figures: dict = {"seeded": False}
        tenant = Tenant.objects.filter(slug=SLUG).first()
        for name, step in steps:
            if name in done:
                continue
            figures["seeded"] = True
            begun = time.perf_counter()
            with transaction.atomic():
                if name == "tenant":
                    tenant = self.create_tenant()
                assert tenant is not None
                with tenant_scope(tenant):
                    result = step(tenant, size)
                seconds = time.perf_counter() - begun
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"INSERT INTO {MARKER} VALUES (%s, %s, %s, now())",
                        [name, json.dumps(asdict(size)), seconds],
                    )
            figures.update(result)
            figures[f"{name}_s"] = seconds
            self.log(f"seed: {name} done in {seconds:.1f}s")
        assert tenant is not None
        if figures["seeded"]:
            begun = time.perf_counter()
            with connection.cursor() as cursor:
                # What autovacuum does soon after a bulk load (statistics,
                # the visibility map), done now so every run measures alike.
                cursor.execute("VACUUM (ANALYZE)")
            figures["vacuum_s"] = time.perf_counter() - begun
            figures["seed_s"] = time.perf_counter() - started
            self.log(f"seed: vacuumed; seed took {figures['seed_s']:.1f}s")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT coalesce(sum(seconds), 0) FROM {MARKER}")
            figures["seed_total_s"] = float(cursor.fetchone()[0]) + figures.get("vacuum_s", 0)
            cursor.execute("SELECT pg_database_size(current_database())")
            figures["db_bytes"] = int(cursor.fetchone()[0])
        return tenant, figures

    def clear(self) -> None:
        """Empty the benchmark's database of tenants and people (it is its
        own database: TRUNCATE is quick where a cascade of deletes is not;
        the ledger's tables are named, its tenant column has no key)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE incentives_disputemessage, incentives_dispute, incentives_settlement, "
                "incentives_payoutline, incentives_payoutrun, incentives_statement, "
                "incentives_ledgerentry, incentives_dealaccrualstate, tenancy_tenant, "
                "tenancy_user CASCADE"
            )
            cursor.execute(f"DELETE FROM {MARKER}")

    # --- The tenant, its people, partners, plans and rates -----------------------------------

    def create_tenant(self) -> Tenant:
        return Tenant.objects.create(
            slug=SLUG,
            name="Bench Reporting Corp",
            timezone="America/New_York",
            base_currency="USD",
            country="US",
        )

    def seed_tenant(self, tenant: Tenant, size: Size) -> dict:
        rng = np.random.default_rng(SEED)
        now = timezone.now()
        today = tenant.local_today(now)
        DealRegSettings.for_tenant(tenant)
        IncentiveSettings.objects.filter(pk=IncentiveSettings.for_tenant(tenant).pk).update(
            statement_period="month",
            holding_days=7,
            minimum_payout=Decimal("50"),
            payout_target_days=30,
        )
        regions = [
            Region.objects.create(tenant=tenant, code=code, name=name, countries=countries)
            for code, name, countries in REGIONS
        ]
        tiers = [Tier.objects.create(tenant=tenant, name=n, rank=r) for n, r in TIERS]
        for i, name in enumerate(PRODUCT_LINES):
            ProductLine.objects.create(tenant=tenant, name=name, code=f"pl{i:02d}")
        hashed = make_password(PASSWORD)
        staff = {
            Role.EXECUTIVE: [EXECUTIVE, f"cfo@{MAIL}"],
            Role.OPS_ADMIN: [f"ops@{MAIL}"],
            Role.FINANCE: [f"finance@{MAIL}", f"finance.checker@{MAIL}"],
            Role.CHANNEL_MANAGER: [f"cm{i + 1:02d}@{MAIL}" for i in range(CHANNEL_MANAGERS)],
        }
        people: dict[str, list[User]] = {}
        for role, emails in staff.items():
            people[role] = []
            for email in emails:
                user = User.objects.create(
                    email=email,
                    password=hashed,
                    full_name=email.split("@")[0].replace(".", " ").title(),
                    last_login=now - timedelta(hours=int(rng.integers(1, 72))),
                )
                Membership.objects.create(tenant=tenant, user=user, role=role)
                people[role].append(user)
        partners = self.seed_partners(tenant, size, rng, regions, tiers, people, today, hashed)
        self.seed_plans(tenant, today, tiers, regions)
        self.seed_rates(tenant, today)
        direct = self.seed_direct(tenant, size, rng, today)
        return {"partners": partners, "direct_opportunities": direct}

    def seed_partners(self, tenant, size, rng, regions, tiers, people, today, hashed) -> int:
        """Partners (with their directory history), their people (an admin
        each, some users) and the channel managers' object permissions."""
        n = size.partners
        rank = np.argsort(np.argsort(-partner_weights(n)))  # 0 = busiest
        share = rank / max(n - 1, 1)
        noise = rng.uniform(-0.08, 0.08, n)
        tier = np.select(
            [share + noise < 0.04, share + noise < 0.16, share + noise < 0.45], [3, 2, 1], 0
        )
        region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
        kind = rng.choice(len(TYPES), size=n, p=TYPE_SHARE)
        # Channel managers: five per region (by region share), 85% of a
        # manager's partners in the manager's region.
        cms = people[Role.CHANNEL_MANAGER]
        per_region = np.array_split(np.arange(len(cms)), len(REGIONS))
        home = rng.random(n) < 0.85
        own_region = np.where(home, region, rng.integers(0, len(REGIONS), n))
        cm = np.array([rng.choice(per_region[r]) for r in own_region])
        # Enrolled over six years, a third in the last two; active some
        # weeks later; a few still onboarding, suspended or terminated.
        enrolled_days = np.where(
            rng.random(n) < 0.33, rng.integers(20, 730, n), rng.integers(730, 2190, n)
        )
        status = rng.choice(
            ["active", "onboarding", "suspended", "terminated"], size=n, p=[0.9, 0.03, 0.04, 0.03]
        )
        status = np.where(
            enrolled_days < 60, np.where(rng.random(n) < 0.5, "onboarding", status), status
        )
        status = np.where((rank < n // 5) & (enrolled_days > 60), "active", status)
        active_after = rng.integers(10, 60, n)
        # Not active yet: still onboarding (the history has no future rows).
        status = np.where(enrolled_days <= active_after, "onboarding", status)
        moved = (rng.random(n) < 0.12) & (tier > 0) & (enrolled_days > 400)
        enrolled = to_utc(
            pd.DatetimeIndex(
                [
                    pd.Timestamp(today) - pd.Timedelta(days=int(d)) + pd.Timedelta(hours=11)
                    for d in enrolled_days
                ]
            ),
            tenant.timezone,
        )
        ids = uuid7s(rng, ms(enrolled))
        tier_ids = [str(t.pk) for t in tiers]
        region_ids = [str(r.pk) for r in regions]
        cm_ids = [str(u.pk) for u in cms]
        names = [f"Bench Partner {i:05d}" for i in range(n)]
        countries = [REGIONS[r][2][i % len(REGIONS[r][2])] for i, r in enumerate(region)]
        created = iso(enrolled)
        tid = str(tenant.pk)
        with connection.cursor() as cursor:
            copy_rows(
                cursor,
                "partners_partner",
                (
                    "id",
                    "tenant_id",
                    "name",
                    "legal_name",
                    "normalized_name",
                    "website",
                    "domain",
                    "partner_type",
                    "country",
                    "region_id",
                    "tier_id",
                    "status",
                    "channel_manager_id",
                    "phone",
                    "address",
                    "notes",
                    "created_at",
                    "updated_at",
                ),
                (
                    f"{ids[i]}\t{tid}\t{names[i]}\t{names[i]} Ltd\t{names[i].lower()}\t"
                    f"https://partner{i:05d}.{MAIL}\tpartner{i:05d}.{MAIL}\t{TYPES[kind[i]]}\t"
                    f"{countries[i]}\t{region_ids[region[i]]}\t{tier_ids[tier[i]]}\t{status[i]}\t"
                    f"{cm_ids[cm[i]]}\t\t\t\t{created[i]}\t{created[i]}\n"
                    for i in range(n)
                ),
            )
            history = []
            for i in range(n):
                start = enrolled[i]
                first_tier = tier[i] - 1 if moved[i] else tier[i]
                steps = [("+", start, "onboarding", first_tier)]
                steps.append(
                    ("~", start + pd.Timedelta(days=int(active_after[i])), "active", first_tier)
                )
                if moved[i]:
                    steps.append(
                        (
                            "~",
                            start + pd.Timedelta(days=int(enrolled_days[i] // 2)),
                            "active",
                            tier[i],
                        )
                    )
                if status[i] in ("suspended", "terminated"):
                    steps.append(
                        (
                            "~",
                            start + pd.Timedelta(days=int(enrolled_days[i] * 0.8)),
                            status[i],
                            tier[i],
                        )
                    )
                elif status[i] == "onboarding":
                    steps = steps[:1]
                for kind_, at, st, t in steps:
                    history.append(
                        f"{ids[i]}\t{tid}\t{names[i]}\t{names[i]} Ltd\t{names[i].lower()}\t"
                        f"https://partner{i:05d}.{MAIL}\tpartner{i:05d}.{MAIL}\t{TYPES[kind[i]]}\t"
                        f"{countries[i]}\t{region_ids[region[i]]}\t{tier_ids[t]}\t{st}\t"
                        f"{cm_ids[cm[i]]}\t\t\t\t{created[i]}\t"
                        f"{at.strftime('%Y-%m-%d %H:%M:%S+00')}\t"
                        f"{at.strftime('%Y-%m-%d %H:%M:%S+00')}\t{kind_}\t{NULL}\t{NULL}\n"
                    )
            copy_rows(
                cursor,
                "partners_historicalpartner",
                (
                    "id",
                    "tenant_id",
                    "name",
                    "legal_name",
                    "normalized_name",
                    "website",
                    "domain",
                    "partner_type",
                    "country",
                    "region_id",
                    "tier_id",
                    "status",
                    "channel_manager_id",
                    "phone",
                    "address",
                    "notes",
                    "created_at",
                    "updated_at",
                    "history_date",
                    "history_type",
                    "history_change_reason",
                    "history_user_id",
                ),
                history,
            )
            # People: an admin per partner (the persona admins the busiest),
            # 0-4 more users; recent sign-ins for most partners with work.
            extra = np.minimum(rng.poisson(0.4 + 1.5 * (1 - share)), 4)
            owner = np.repeat(np.arange(n), 1 + extra)
            first = np.r_[True, owner[1:] != owner[:-1]]
            users = len(owner)
            recent = rng.random(users) < np.where(
                status[owner] == "active", 0.35 + 0.6 * (1 - share[owner]), 0.05
            )
            last_days = np.where(recent, rng.uniform(0, 28, users), rng.uniform(30, 400, users))
            logins = to_utc(
                pd.DatetimeIndex(
                    pd.Timestamp(today)
                    - pd.to_timedelta(last_days, unit="D")
                    + pd.Timedelta(hours=12)
                ),
                tenant.timezone,
            )
            user_ids = uuid7s(rng, ms(logins))
            busiest = int(np.argmin(rank))
            emails = []
            for k in range(users):
                p = owner[k]
                if first[k] and p == busiest:
                    emails.append(PARTNER_ADMIN)
                else:
                    emails.append(f"{'admin' if first[k] else f'user{k}'}@partner{p:05d}.{MAIL}")
            login_text = iso(logins)
            copy_rows(
                cursor,
                "tenancy_user",
                (
                    "id",
                    "password",
                    "last_login",
                    "is_superuser",
                    "email",
                    "full_name",
                    "phone",
                    "is_active",
                    "date_joined",
                ),
                (
                    f"{user_ids[k]}\t{hashed}\t{login_text[k]}\tf\t{emails[k]}\t"
                    f"Person {k}\t\tt\t{created[owner[k]]}\n"
                    for k in range(users)
                ),
            )
            member_ids = uuid7s(rng, ms(enrolled[owner]))
            copy_rows(
                cursor,
                "tenancy_membership",
                (
                    "id",
                    "tenant_id",
                    "user_id",
                    "role",
                    "partner_id",
                    "title",
                    "is_active",
                    "created_at",
                ),
                (
                    f"{member_ids[k]}\t{tid}\t{user_ids[k]}\t"
                    f"{'partner_admin' if first[k] else 'partner_user'}\t{ids[owner[k]]}\t\t"
                    f"{'t' if status[owner[k]] != 'terminated' else 'f'}\t{created[owner[k]]}\n"
                    for k in range(users)
                ),
            )
            # Channel managers act on their partners' records (guardian).
            cursor.execute(
                """
                INSERT INTO guardian_userobjectpermission (permission_id, user_id,
                    content_type_id, object_pk)
                SELECT perm.id, p.channel_manager_id, perm.content_type_id, p.id::text
                FROM partners_partner p
                JOIN auth_permission perm ON perm.codename = 'manage_partner'
                JOIN django_content_type ct ON ct.id = perm.content_type_id
                    AND ct.app_label = 'partners' AND ct.model = 'partner'
                WHERE p.tenant_id = %s AND p.channel_manager_id IS NOT NULL
                """,
                [tid],
            )
        self.log(f"seed: {n:,} partners, {users:,} partner people")
        return n

    def seed_plans(self, tenant, today: date, tiers, regions) -> None:
        """The stacked incentive program (see the module text), every
        version in force over the whole window."""
        ops = Membership.objects.get(role=Role.OPS_ADMIN)
        start = today - timedelta(days=WINDOW_DAYS + 90)

        def plan(name, kind, *, percent=None, fixed=None, cap=None, **scope):
            p = Plan.objects.create(tenant=tenant, name=name, kind=kind)
            version = PlanVersion.objects.create(
                tenant=tenant,
                plan=p,
                number=1,
                effective_from=start,
                rate_type=PlanVersion.RateType.PERCENT
                if fixed is None
                else PlanVersion.RateType.FIXED,
                rate_percent=None if percent is None else Decimal(percent),
                fixed_amount=None if fixed is None else Decimal(fixed),
                cap_per_deal=None if cap is None else Decimal(cap),
                partner_types=scope.pop("partner_types", []),
            )
            version.tiers.set(scope.pop("tiers", ()))
            version.regions.set(scope.pop("regions", ()))
            version.product_lines.set(scope.pop("product_lines", ()))
            plans.publish(version, by=ops)

        commission, spiff = Plan.Kind.COMMISSION, Plan.Kind.SPIFF
        plan("Partner commission", commission, percent="2.5", cap="5000")
        plan("Gold and Platinum accelerator", commission, percent="1.0", tiers=tiers[2:])
        for value, percent in zip(TYPES, ["1.5", "0.5", "2.0", "4.0", "1.0"], strict=True):
            plan(
                f"{Partner.Type(value).label} program",
                commission,
                percent=percent,
                partner_types=[value],
            )
        for region in regions:
            plan(f"{region.name} growth bonus", commission, percent="0.5", regions=[region])
        for line in ProductLine.objects.order_by("code"):
            plan(f"{line.name} commission", commission, percent="0.75", product_lines=[line])
            plan(f"{line.name} attach SPIFF", spiff, fixed="40", product_lines=[line])

    def seed_rates(self, tenant, today: date) -> None:
        """Monthly EUR and GBP rates from 27 months back (some drift)."""
        month = date(today.year - 3, today.month, 1)
        k = 0
        while month <= today:
            for currency, base, step in (("EUR", "1.04", 37), ("GBP", "1.21", 53)):
                ExchangeRate.objects.create(
                    tenant=tenant,
                    currency=currency,
                    valid_from=month,
                    rate=Decimal(base) + Decimal((k * step) % 900) / 10000,
                )
            month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
            k += 1

    def seed_direct(self, tenant, size: Size, rng, today: date) -> int:
        """The vendor's direct opportunities (an eighth of the registrations):
        what the share metrics divide by."""
        n = max(10, size.registrations // 8)
        close = np.datetime64(today) + rng.integers(-WINDOW_DAYS, 180, n).astype("timedelta64[D]")
        past = close <= np.datetime64(today)
        stage = np.where(
            past,
            np.where(rng.random(n) < 0.45, "closed_won", "closed_lost"),
            rng.choice(["prospecting", "qualification", "proposal", "negotiation"], n),
        )
        amount = np.round(rng.lognormal(np.log(90000), 0.9, n), -2)
        imported = iso(pd.DatetimeIndex([timezone.now()] * n))
        tid = str(tenant.pk)
        ids = uuid7s(rng, np.full(n, int(time.time() * 1000)))
        with connection.cursor() as cursor:
            copy_rows(
                cursor,
                "dealreg_directopportunity",
                (
                    "id",
                    "tenant_id",
                    "external_id",
                    "customer_name",
                    "customer_name_normalized",
                    "customer_domain",
                    "customer_country",
                    "owner_name",
                    "owner_email",
                    "stage",
                    "amount",
                    "currency",
                    "close_date",
                    "imported_at",
                ),
                lines(
                    ids,
                    [tid] * n,
                    [f"OPP-{i:07d}" for i in range(n)],
                    [f"Direct Customer {i}" for i in range(n)],
                    [f"direct customer {i}" for i in range(n)],
                    [f"direct{i}.example" for i in range(n)],
                    ["US"] * n,
                    ["Direct Rep"] * n,
                    [""] * n,
                    list(stage),
                    [f"{a:.2f}" for a in amount],
                    ["USD"] * n,
                    [str(d) for d in close],
                    imported,
                ),
            )
        return n


def partner_weights(n: int) -> np.ndarray:
    """Each partner's share of the activity (partners in name order):
    Pareto with the 80/20 shape, the same in every step and every seed."""
    return np.random.default_rng(SEED + 1).pareto(1.16, n) + 1
