"""The load benchmark's data (``make bench-load``): the demo tenants
(``seed_demo``: acme and globex, one login per role) grown into a working
portal. Each gets ``partners`` more partners split among ``cms`` channel
managers, a partner login at each of the first ``partner_logins``
partners, ``finance`` finance logins, and ``rows`` registrations of the
last year in every state (a tenth waiting for a decision, a third won,
accrued into the ledger, with the statements of the periods that ended).

Staff must use an authenticator app here (``require_staff_mfa``): every
bench channel manager and finance login has a TOTP authenticator with a
known secret (``totp_secret``), which the load generator turns into codes
with allauth's own helpers to sign in as a person would.
"""

import base64
import hashlib
import io
import random
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_scopes import scopes_disabled

from bench.dealreg_seed import SUFFIXES, SYLLABLES, WORDS_A, WORDS_B
from bench.payouts_seed import LEDGER_TABLES
from dealreg.models import DealRegistration, DealRegSettings, ProductLine
from incentives import bulk, periods, statements
from incentives.models import DealAccrualState
from partners import services as partner_services
from partners.models import Partner, Tier
from prm.tenancy.demo import DEMO_PASSWORD, TENANTS
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope

PASSWORD = DEMO_PASSWORD  # every bench login's, as the demo's
Status = DealRegistration.Status
# Registration n's status: one in ten waits for a decision, two are
# approved (partners report their outcome), three won, one rejected,
# three lost.
STATUS_CYCLE = [
    Status.SUBMITTED,
    Status.APPROVED,
    Status.APPROVED,
    Status.WON,
    Status.WON,
    Status.WON,
    Status.REJECTED,
    Status.LOST,
    Status.LOST,
    Status.LOST,
]


def totp_secret(email: str) -> str:
    """The bench login's authenticator secret (base32, 160 bits), derived
    from its email so that the load generator knows it too."""
    digest = hashlib.sha256(f"bench-load:{email}".encode()).digest()
    return base64.b32encode(digest[:20]).decode()


def company_name(rng: random.Random) -> str:
    """An invented company ("Korvexita Logistics", "Zanubel Summit Foods
    GmbH") from the deal registration benchmark's word lists."""
    word = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
    place = f" {rng.choice(WORDS_A).capitalize()}" if rng.random() < 0.25 else ""
    suffix = rng.choice(SUFFIXES)
    return f"{word}{place} {rng.choice(WORDS_B).capitalize()}" + (f" {suffix}" if suffix else "")


@dataclass
class TenantLogins:
    """What the load generator needs to know about one tenant."""

    slug: str
    host: str
    partner_logins: list[str] = field(default_factory=list)
    cm_logins: list[str] = field(default_factory=list)
    finance_logins: list[str] = field(default_factory=list)
    statement_partners: list[str] = field(default_factory=list)  # partner ids
    customers: list[str] = field(default_factory=list)  # names already registered


class LoadSeeder:
    """Seeds the load benchmark's database, reporting through ``log``."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

    def seed(
        self, *, rows: int, partners: int, partner_logins: int, cms: int, finance: int
    ) -> list[TenantLogins]:
        started = clock.perf_counter()
        self.empty()
        call_command("seed_demo", stdout=io.StringIO())  # its list of logins is not ours
        self.log(f"seed: demo tenants ({clock.perf_counter() - started:.1f}s)")
        worlds = []
        for spec in TENANTS:
            with scopes_disabled():
                tenant = Tenant.objects.get(slug=spec["slug"])
            with tenant_scope(tenant):
                world = self.seed_tenant(tenant, partners, partner_logins, cms, finance)
                self.seed_registrations(tenant, rows)
                written, issued = self.accrue_history(tenant)
                world.customers = list(
                    DealRegistration.objects.filter(status__in=DealRegistration.ACTIVE)
                    .order_by("?")
                    .values_list("customer_name", flat=True)[:500]
                )
            self.log(
                f"seed: {tenant.slug}: {partners} partners, {rows:,} registrations, "
                f"{written:,} accruals, {issued} statements ({clock.perf_counter() - started:.1f}s)"
            )
            worlds.append(world)
        with connection.cursor() as cursor:
            for table in ("dealreg_dealregistration", "partners_partner", "incentives_ledgerentry"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        self.log(f"seed: done in {clock.perf_counter() - started:.1f}s")
        return worlds

    def empty(self) -> None:
        """Everything of the last run (a dedicated database: see the command)."""
        tables = [LEDGER_TABLES, "tenancy_tenant", "tenancy_user", "django_session"]
        try:  # the transactional outbox, where it exists
            outbox = apps.get_model("tenancy", "OutboxMessage")
        except LookupError:
            pass
        else:
            tables.append(outbox._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")

    def seed_tenant(
        self, tenant: Tenant, partner_count: int, partner_logins: int, cms: int, finance: int
    ) -> TenantLogins:
        slug = tenant.slug
        world = TenantLogins(slug=slug, host=tenant.subdomain_host)
        password = make_password(PASSWORD)  # hashed once for every bench login
        people: dict[str, list[User]] = {}
        with transaction.atomic():
            for role, local, count in (
                (Role.CHANNEL_MANAGER, "cm", cms),
                (Role.FINANCE, "finance", finance),
                (Role.PARTNER_USER, "partner", partner_logins),
            ):
                users = [
                    User.objects.create(
                        email=f"load-{local}-{k:03d}@{slug}.example",
                        full_name=f"Load {local.capitalize()} {k:03d}",
                        password=password,
                    )
                    for k in range(count)
                ]
                EmailAddress.objects.bulk_create(
                    EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users
                )
                people[role] = users
            for role in (Role.CHANNEL_MANAGER, Role.FINANCE):
                for user in people[role]:
                    Membership.objects.create(tenant=tenant, user=user, role=role)
                    TOTP.activate(user, totp_secret(user.email))
            tiers = list(Tier.objects.order_by("rank"))
            managers = people[Role.CHANNEL_MANAGER]
            made = [
                partner_services.create_partner(
                    tenant=tenant,
                    by=None,
                    data={
                        "name": f"Load Partner {k:04d}",
                        "legal_name": f"Load Partner {k:04d} Ltd",
                        "website": f"https://load-partner-{k:04d}.{slug}.example",
                        "partner_type": Partner.Type.RESELLER,
                        "country": tenant.country,
                        "tier": tiers[k % len(tiers)],
                        "status": Partner.Status.ACTIVE,
                        "channel_manager": managers[k % len(managers)],
                    },
                )
                for k in range(partner_count)
            ]
            for k, user in enumerate(people[Role.PARTNER_USER]):
                Membership.objects.create(
                    tenant=tenant, user=user, role=Role.PARTNER_USER, partner=made[k]
                )
            tenant.require_staff_mfa = True
            tenant.save(update_fields=["require_staff_mfa"])
        world.cm_logins = [u.email for u in people[Role.CHANNEL_MANAGER]]
        world.finance_logins = [u.email for u in people[Role.FINANCE]]
        world.partner_logins = [u.email for u in people[Role.PARTNER_USER]]
        world.statement_partners = [str(p.pk) for p in made[: max(partner_logins, 1)]]
        return world

    def accrue_history(self, tenant: Tenant) -> tuple[int, int]:
        """The won deals accrued period by period, as they were won (each
        period's on that period's statement), and the statements of the
        periods that ended issued: (entries, statements)."""
        period = statements.statement_period(tenant)
        today = tenant.local_today()
        start = periods.period_start(today - timedelta(days=366), period)
        written = issued = 0
        while start <= today:
            following = periods.next_start(start, period)
            begins, ends = (
                timezone.make_aware(datetime.combine(day, time(0)), tenant.tzinfo)
                for day in (start, following)
            )
            moment = min(timezone.now(), ends - timedelta(hours=1))  # the period's last hour
            ids = list(
                DealRegistration.objects.filter(
                    status=Status.WON, outcome_recorded_at__gte=begins, outcome_recorded_at__lt=ends
                ).values_list("pk", flat=True)
            )
            if ids:
                written += bulk.accrue_won_deals(
                    tenant, registration_ids=ids, now=moment, via="bench_load seed"
                )
            if following <= today:
                issued += statements.issue_statements(tenant, start)
            start = following
        # A deal won in a period's last hour was accrued at that hour: it
        # was last changed then, not later (the accrual sweep would take it
        # for a deal changed since its sync).
        synced = DealAccrualState.objects.filter(registration=OuterRef("pk"))
        DealRegistration.objects.filter(
            status=Status.WON, accrual_state__synced_at__lt=F("updated_at")
        ).update(updated_at=Subquery(synced.values("synced_at")[:1]))
        return written, issued

    def seed_registrations(self, tenant: Tenant, rows: int) -> None:
        """``rows`` registrations of the last year over the bench partners
        (the partner logins' organisations among them), through the ORM in
        batches: the database's triggers keep the conflict claims."""
        rng = random.Random(f"bench-load:{tenant.slug}")
        partners = list(Partner.objects.filter(name__startswith="Load Partner").order_by("name"))
        members = dict(
            Membership.objects.filter(partner__in=partners).values_list("partner_id", "user_id")
        )
        submitter = Membership.objects.get(role=Role.OPS_ADMIN).user_id
        products = list(ProductLine.objects.order_by("code"))
        settings_row = DealRegSettings.for_tenant(tenant)
        now = timezone.now()
        today = tenant.local_today()
        currency = tenant.base_currency
        batch: list[DealRegistration] = []
        lines: list[tuple[DealRegistration, ProductLine]] = []
        for n in range(rows):
            partner = partners[n % len(partners)]
            status = STATUS_CYCLE[n % len(STATUS_CYCLE)]
            name = company_name(rng)
            at = now - timedelta(minutes=rng.randrange(10, 365 * 24 * 60))
            value = Decimal(rng.randrange(2_000, 400_000))
            registration = DealRegistration(
                tenant=tenant,
                partner=partner,
                submitted_by_id=members.get(partner.pk, submitter),
                customer_name=name,
                customer_name_normalized=name.lower(),
                customer_domain=name.split()[0].lower() + ".example",
                customer_country=tenant.country,
                estimated_value=value,
                currency=currency,
                expected_close_date=today + timedelta(days=rng.randrange(10, 180)),
                status=status,
                conflict_state=DealRegistration.ConflictState.CLEAR,
                approver_id=partner.channel_manager_id,
                submitted_at=at,
                sla_cycle=1,
                sla_due_at=at + timedelta(hours=settings_row.sla_business_hours),
                created_at=at,
            )
            if status == Status.SUBMITTED:
                # Waiting now: the SLA sweep finds a few due every minute.
                registration.submitted_at = now - timedelta(hours=rng.randrange(1, 20))
                registration.sla_due_at = now + timedelta(minutes=30 + n % 4000)
                registration.sla_next_check_at = now + timedelta(minutes=1 + n % 2000)
            else:
                registration.decided_at = at + timedelta(hours=5)
                registration.sla_met = True
            if status == Status.APPROVED:
                registration.protected_until = today + timedelta(days=1 + n % 90)
            if status == Status.WON:
                close = min(today, (at + timedelta(days=rng.randrange(5, 60))).date())
                registration.won_amount = value
                registration.won_currency = currency
                registration.won_close_date = close
                registration.outcome_recorded_at = at + timedelta(days=1)
            if status == Status.LOST:
                registration.lost_reason = "Customer chose a competitor."
            batch.append(registration)
            lines.append((registration, products[n % len(products)]))
            if len(batch) == 2000 or n == rows - 1:
                with transaction.atomic():
                    DealRegistration.objects.bulk_create(batch)
                    through = DealRegistration.product_lines.through
                    through.objects.bulk_create(
                        through(dealregistration_id=r.pk, productline_id=p.pk) for r, p in lines
                    )
                batch, lines = [], []
        # Each was last changed by its last step, not by this seed.
        DealRegistration.objects.filter(partner__in=partners).update(
            updated_at=Coalesce("outcome_recorded_at", "decided_at", "submitted_at")
        )
