"""Demo data: two vendors with tiers, regions, ~20 partners and one login per
role each. Safe to run again: what exists is left as it is."""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from partners import services as partner_services
from partners.models import Contact, Partner, Region, Tier
from partners.normalize import normalize_name
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope

DEMO_PASSWORD = "demo-pass-2026"

TENANTS = [
    {
        "slug": "acme",
        "name": "Acme Networks",
        "timezone": "America/New_York",
        "base_currency": "USD",
        "country": "US",
        "support_email": "partners@acme.example",
    },
    {
        "slug": "globex",
        "name": "Globex Security",
        "timezone": "Europe/Berlin",
        "base_currency": "EUR",
        "country": "DE",
        "support_email": "partners@globex.example",
    },
]

TIERS = [
    ("Registered", 1, "Portal access, deal registration, standard discount."),
    ("Silver", 2, "Deal protection for 90 days, 5% rebate, MDF on request."),
    (
        "Gold",
        3,
        "Everything in Silver, 8% rebate, quarterly MDF allocation, named channel manager.",
    ),
    ("Platinum", 4, "Everything in Gold, 12% rebate, joint business planning, early access."),
]

REGIONS = [
    ("North America", "na", ["US", "CA", "MX"]),
    ("EMEA", "emea", ["GB", "DE", "FR", "NL", "ES", "IT", "SE", "PL", "AE", "ZA"]),
    ("APAC", "apac", ["AU", "JP", "SG", "IN", "NZ", "KR"]),
    ("Latin America", "latam", ["BR", "AR", "CL", "CO", "PE"]),
]

PARTNER_NAMES = [
    "Northwind Solutions",
    "Contoso Integration",
    "Fabrikam Networks",
    "Tailspin IT",
    "Wide World Systems",
    "Proseware Managed Services",
    "Litware Distribution",
    "Adventure Works Consulting",
    "Blue Yonder Security",
    "Coho Data Partners",
    "Fourth Coffee Technologies",
    "Graphic Design Institute IT",
    "Humongous Reseller Group",
    "Lucerne Cloud Services",
    "Margie's Travel Tech",
    "Nod Publishers Digital",
    "Southridge Infrastructure",
    "Trey Research Labs",
    "Wingtip Networks",
    "Alpine Ski IT",
]
COUNTRIES = ["US", "CA", "GB", "DE", "FR", "AU", "JP", "BR", "NL", "SG", "IN", "MX"]
TYPES = [t.value for t in Partner.Type]
STATUSES = ["active"] * 6 + ["onboarding", "prospect", "active", "suspended"]

PRODUCT_LINES = [
    ("fw", "Firewall"),
    ("sdwan", "SD-WAN"),
    ("edr", "Endpoint Security"),
    ("cloud", "Cloud Security"),
]

ROLE_LOGINS = [
    (Role.OPS_ADMIN, "ops", "Olivia Ops"),
    (Role.CHANNEL_MANAGER, "cm", "Carlos Channel"),
    (Role.FINANCE, "finance", "Fiona Finance"),
    (Role.EXECUTIVE, "exec", "Evan Executive"),
    (Role.PARTNER_ADMIN, "partner.admin", "Paula Partner-Admin"),
    (Role.PARTNER_USER, "partner.user", "Peter Partner-User"),
]


def _user(email: str, full_name: str, *, superuser: bool = False) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, password=DEMO_PASSWORD, full_name=full_name, is_superuser=superuser
        )
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


class Command(BaseCommand):
    help = "Create (or complete) the demo tenants acme and globex with their logins."

    def handle(self, *args, **options):
        logins: list[tuple[str, str, str]] = []
        with transaction.atomic():
            _user("admin@platform.example", "Platform Admin", superuser=True)
            platform_url = f"{settings.PRM_URL_SCHEME}://{settings.PRM_BASE_DOMAIN}"
            if settings.PRM_URL_PORT:
                platform_url += f":{settings.PRM_URL_PORT}"
            logins.append(("platform", "superuser", "admin@platform.example"))
            for spec in TENANTS:
                tenant, _ = Tenant.objects.get_or_create(slug=spec["slug"], defaults=spec)
                with tenant_scope(tenant):
                    logins += self._seed_tenant(tenant)
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"Every demo login uses the password: {DEMO_PASSWORD}")
        self.stdout.write(f"  {'where':<44} {'role':<16} email")
        for where, role, email in logins:
            url = f"{platform_url}/admin/" if where == "platform" else where
            self.stdout.write(f"  {url:<44} {role:<16} {email}")

    def _seed_tenant(self, tenant: Tenant) -> list[tuple[str, str, str]]:
        slug = tenant.slug
        tiers = {}
        for name, rank, benefits in TIERS:
            tiers[rank], _ = Tier.objects.get_or_create(
                tenant=tenant, name=name, defaults={"rank": rank, "benefits": benefits}
            )
        for name, code, countries in REGIONS:
            Region.objects.get_or_create(
                tenant=tenant, code=code, defaults={"name": name, "countries": countries}
            )

        people = {}
        for role, local, full_name in ROLE_LOGINS:
            people[role] = _user(f"{local}@{slug}.example", full_name)
        second_cm = _user(f"cm2@{slug}.example", "Chen Channel")
        for role in (Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE):
            Membership.objects.get_or_create(
                tenant=tenant, user=people[role], defaults={"role": role}
            )
        Membership.objects.get_or_create(
            tenant=tenant, user=second_cm, defaults={"role": Role.CHANNEL_MANAGER}
        )
        managers = [people[Role.CHANNEL_MANAGER], second_cm]
        ops = people[Role.OPS_ADMIN]

        partners = []
        for i, name in enumerate(PARTNER_NAMES):
            existing = Partner.objects.filter(normalized_name=normalize_name(name)).first()
            if existing:
                partners.append(existing)
                continue
            website = "https://{}.example".format(
                normalize_name(name).replace(" ", "-").replace("'", "")
            )
            partner = partner_services.create_partner(
                tenant=tenant,
                by=ops,
                data={
                    "name": name,
                    "legal_name": f"{name} Inc.",
                    "website": website,
                    "partner_type": TYPES[i % len(TYPES)],
                    "country": COUNTRIES[i % len(COUNTRIES)],
                    "tier": tiers[(i % 4) + 1] if i else tiers[3],
                    "status": STATUSES[i % len(STATUSES)],
                    "channel_manager": managers[i % 2],
                    "phone": f"+1 555 01{i:02d}",
                },
            )
            Contact.objects.create(
                tenant=tenant,
                partner=partner,
                name=f"Sales lead at {name}",
                email=f"sales@{partner.domain}",
                title="Head of sales",
                is_primary=True,
            )
            partners.append(partner)

        home_partner = partners[0]
        for role in (Role.PARTNER_ADMIN, Role.PARTNER_USER):
            Membership.objects.get_or_create(
                tenant=tenant,
                user=people[role],
                defaults={"role": role, "partner": home_partner},
            )
        self._seed_dealreg(tenant, partners, people, second_cm)
        self._seed_incentives(tenant, partners, people)
        host = tenant.absolute_url("/")
        return [(host, role.value, people[role].email) for role, _l, _n in ROLE_LOGINS]

    def _seed_dealreg(self, tenant, partners, people, second_cm) -> None:
        """Product lines and a handful of registrations in every state, once."""
        import uuid
        from datetime import timedelta
        from decimal import Decimal

        from django.utils import timezone

        from dealreg import services as dealreg
        from dealreg.models import DealRegistration, DealRegSettings, ProductLine

        DealRegSettings.for_tenant(tenant)
        products = {}
        for code, name in PRODUCT_LINES:
            products[code], _ = ProductLine.objects.get_or_create(
                tenant=tenant, code=code, defaults={"name": name}
            )
        if DealRegistration.objects.exists():
            return
        partner_user = Membership.objects.get(user=people[Role.PARTNER_USER])
        other_member, _ = Membership.objects.get_or_create(
            tenant=tenant,
            user=_user(f"sales@{partners[1].domain}", f"{partners[1].name} Sales"),
            defaults={"role": Role.PARTNER_USER, "partner": partners[1]},
        )
        ops = Membership.objects.get(user=people[Role.OPS_ADMIN])
        today = timezone.localdate(timezone=tenant.tzinfo)

        def register(member, customer, domain, value, lines, days=60):
            return dealreg.submit(
                tenant=tenant,
                by=member,
                given=dealreg.RegistrationInput(
                    data={
                        "customer_name": customer,
                        "customer_domain": domain,
                        "customer_country": "US",
                        "customer_contact_name": "Head of IT",
                        "customer_contact_email": f"it@{domain}",
                        "estimated_value": Decimal(value),
                        "currency": tenant.base_currency,
                        "expected_close_date": today + timedelta(days=days),
                        "description": "Demo registration",
                    },
                    product_lines=[products[c] for c in lines],
                ),
                client_token=uuid.uuid4(),
            )

        register(partner_user, "Initech Corporation", "initech.example", "48000", ["fw"])
        approved = register(
            partner_user, "Umbrella Health", "umbrella.example", "120000", ["fw", "edr"]
        )
        dealreg.approve(approved, by=ops, reason="Clear: no competing registrations.")
        won = register(partner_user, "Stark Logistics", "stark.example", "30000", ["sdwan"])
        dealreg.approve(won, by=ops)
        dealreg.record_outcome(
            won, by=partner_user, won=True, amount=Decimal("31500.00"), close_date=today
        )
        asked = register(partner_user, "Wayne Foods", "wayne.example", "22000", ["cloud"])
        dealreg.request_info(
            asked, by=ops, message="Who is the economic buyer, and is there a budget approved?"
        )
        # The same customer as the first registration, from another partner.
        register(other_member, "Initech Corp.", "initech.example", "51000", ["fw"])

    def _seed_incentives(self, tenant, partners, people) -> None:
        """Rates, plans of each kind, and half a year of won deals accrued
        through the same services as production; once."""
        import uuid
        from datetime import date, timedelta
        from decimal import Decimal

        from django.utils import timezone

        from dealreg import services as dealreg
        from dealreg.models import ProductLine
        from incentives import ledger, plans
        from incentives.models import Bracket, ExchangeRate, IncentiveSettings, Plan, PlanVersion
        from incentives.periods import Period, period_start

        IncentiveSettings.for_tenant(tenant)
        if Plan.objects.exists():
            return
        ops = Membership.objects.get(user=people[Role.OPS_ADMIN])
        today = timezone.localdate(timezone=tenant.tzinfo)
        for currency, rate in (("EUR", "1.0842"), ("GBP", "1.2671"), ("CAD", "0.7312")):
            if currency != tenant.base_currency:
                ExchangeRate.objects.create(
                    tenant=tenant,
                    currency=currency,
                    valid_from=date(today.year - 1, 1, 1),
                    rate=Decimal(rate),
                )

        def version(name, kind, rate_type, **rule):
            brackets = rule.pop("brackets", [])
            products = rule.pop("product_lines", [])
            plan = Plan.objects.create(tenant=tenant, name=name, kind=kind)
            draft = PlanVersion.objects.create(
                tenant=tenant,
                plan=plan,
                number=1,
                rate_type=rate_type,
                effective_from=rule.pop("effective_from", date(today.year - 1, 1, 1)),
                **rule,
            )
            draft.product_lines.set(products)
            for lower, percent in brackets:
                Bracket.objects.create(
                    tenant=tenant,
                    version=draft,
                    lower=Decimal(lower),
                    rate_percent=Decimal(percent),
                )
            return plans.publish(draft, by=ops)

        version(
            "Resale commission",
            Plan.Kind.COMMISSION,
            PlanVersion.RateType.BRACKETS_MARGINAL,
            brackets=[("0", "6"), ("50000", "8"), ("150000", "10")],
            period=Period.QUARTER,
            quota=Decimal("250000"),
            accelerator=Decimal("1.25"),
            cap_per_deal=Decimal("25000"),
            notes="Stepped: 6% to 50k, 8% to 150k, 10% above; 1.25x above 250k a quarter.",
        )
        quarter = period_start(today, Period.QUARTER)
        version(
            "SD-WAN quarter push",
            Plan.Kind.SPIFF,
            PlanVersion.RateType.FIXED,
            fixed_amount=Decimal("500"),
            effective_from=quarter,
            effective_to=quarter + timedelta(days=91),
            product_lines=[ProductLine.objects.get(code="sdwan")],
        )
        version(
            "Distributor volume rebate",
            Plan.Kind.REBATE,
            PlanVersion.RateType.PERCENT,
            rate_percent=Decimal("2"),
            period=Period.QUARTER,
            partner_types=["distributor"],
        )

        products = list(ProductLine.objects.order_by("code"))
        active = [p for p in partners if p.status == "active"][:5]
        deals = []
        for i in range(18):
            partner = active[i % len(active)]
            member, _ = Membership.objects.get_or_create(
                tenant=tenant,
                user=_user(f"sales@{partner.domain}", f"{partner.name} Sales"),
                defaults={"role": Role.PARTNER_USER, "partner": partner},
            )
            currency = ("EUR", "GBP")[i % 2] if i % 5 == 4 else tenant.base_currency
            amount = Decimal(18000 + (i * 7919) % 90000)
            close = today - timedelta(days=170 - i * 9)
            # History: each step at the time it happened.
            then = timezone.now() - timedelta(days=200 - i * 9)
            registration = dealreg.submit(
                tenant=tenant,
                by=member,
                given=dealreg.RegistrationInput(
                    data={
                        "customer_name": f"Demo Customer {i + 1:02d}",
                        "customer_domain": f"customer{i + 1:02d}.example",
                        "customer_country": "US",
                        "estimated_value": amount,
                        "currency": currency,
                        "expected_close_date": close + timedelta(days=30),
                        "description": "Demo history",
                    },
                    product_lines=[products[i % len(products)]],
                ),
                client_token=uuid.uuid4(),
                now=then,
            )
            dealreg.approve(registration, by=ops, now=then + timedelta(hours=5))
            deals.append(
                dealreg.record_outcome(
                    registration,
                    by=ops,
                    won=True,
                    amount=amount,
                    close_date=close,
                    now=then + timedelta(days=31),
                )
            )
        for deal in deals:
            ledger.sync_deal(deal, via="seed_demo")
        # A cancelled order: its commission is clawed back.
        dealreg.reverse_win(deals[-3], by=ops, reason="Customer cancelled the order.")
        ledger.sync_deal(deals[-3], via="seed_demo")

        # A paid payout run: deals closed over 30 days ago are paid; newer
        # ones wait out the holding period.
        from incentives import payouts

        finance = Membership.objects.get(user=people[Role.FINANCE])
        run = payouts.start_run(tenant, by=finance, cutoff=today)
        run = payouts.compute_run(run)
        run = payouts.approve(run, by=finance)
        run = payouts.write_payouts(run)
        payouts.mark_paid(run, by=finance, reference="DEMO-ACH-0001")
