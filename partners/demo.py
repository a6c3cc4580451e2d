"""The partner directory's demo data: tiers, regions, twenty partners with a
primary contact, a second channel manager, and the partner logins at the
first partner."""

from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import demo_member, demo_user
from prm.tenancy.roles import Role

from . import services
from .models import Contact, Partner, Region, Tier
from .normalize import normalize_name

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


def seed(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    tiers = {}
    for name, rank, benefits in TIERS:
        tiers[rank], _ = Tier.objects.get_or_create(
            tenant=tenant, name=name, defaults={"rank": rank, "benefits": benefits}
        )
    for name, code, countries in REGIONS:
        Region.objects.get_or_create(
            tenant=tenant, code=code, defaults={"name": name, "countries": countries}
        )
    second_cm = demo_user(f"cm2@{tenant.slug}.example", "Chen Channel")
    demo_member(tenant, second_cm, Role.CHANNEL_MANAGER)
    managers = [ctx.users[Role.CHANNEL_MANAGER], second_cm]

    partners = []
    for i, name in enumerate(PARTNER_NAMES):
        existing = Partner.objects.filter(normalized_name=normalize_name(name)).first()
        if existing:
            partners.append(existing)
            continue
        website = "https://{}.example".format(
            normalize_name(name).replace(" ", "-").replace("'", "")
        )
        partner = services.create_partner(
            tenant=tenant,
            by=ctx.users[Role.OPS_ADMIN],
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

    for role in (Role.PARTNER_ADMIN, Role.PARTNER_USER):
        ctx.people[role] = demo_member(tenant, ctx.users[role], role, partner=partners[0])
    ctx.objects["partners.partners"] = partners
