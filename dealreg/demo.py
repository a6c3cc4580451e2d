"""Deal registration's demo data: product lines, a year of registrations
(``demo_year``) and, today, a handful in every state (once)."""

import uuid
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import demo_member, demo_user
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role

from . import services
from .demo_year import seed_year
from .models import DealRegistration, DealRegSettings, ProductLine

PRODUCT_LINES = [
    ("fw", "Firewall"),
    ("sdwan", "SD-WAN"),
    ("edr", "Endpoint Security"),
    ("cloud", "Cloud Security"),
]


def seed(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    partners = ctx.objects["partners.partners"]
    DealRegSettings.for_tenant(tenant)
    products = {}
    for code, name in PRODUCT_LINES:
        products[code], _ = ProductLine.objects.get_or_create(
            tenant=tenant, code=code, defaults={"name": name}
        )
    if DealRegistration.objects.exists():
        return
    seed_year(ctx, [products[code] for code, _name in PRODUCT_LINES])
    partner_user = ctx.people[Role.PARTNER_USER]
    other_member = demo_member(
        tenant,
        demo_user(f"sales@{partners[1].domain}", f"{partners[1].name} Sales"),
        Role.PARTNER_USER,
        partner=partners[1],
    )
    ops = ctx.people[Role.OPS_ADMIN]
    today = tenant.local_today()

    def register(
        member: Membership,
        customer: str,
        domain: str,
        value: str,
        lines: Iterable[str],
        days: int = 60,
    ) -> DealRegistration:
        return services.submit(
            tenant=tenant,
            by=member,
            given=services.RegistrationInput(
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
    services.approve(approved, by=ops, reason="Clear: no competing registrations.")
    won = register(partner_user, "Stark Logistics", "stark.example", "30000", ["sdwan"])
    services.approve(won, by=ops)
    services.record_outcome(
        won, by=partner_user, won=True, amount=Decimal("31500.00"), close_date=today
    )
    asked = register(partner_user, "Wayne Foods", "wayne.example", "22000", ["cloud"])
    services.request_info(
        asked, by=ops, message="Who is the economic buyer, and is there a budget approved?"
    )
    # The same customer as the first registration, from another partner.
    register(other_member, "Initech Corp.", "initech.example", "51000", ["fw"])
