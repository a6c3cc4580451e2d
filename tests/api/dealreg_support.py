"""What the deal registration API tests share: the program's product lines,
a registration body as the API takes it, a registration submitted through
the service as the portal would, and another partner's member."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dealreg import services
from dealreg.models import DealRegistration, ProductLine
from prm.tenancy.roles import Role
from tests import factories

REGISTRATIONS = "/api/v1/registrations/"


def make_lines(world) -> dict[str, ProductLine]:
    with world.scope():
        return {
            code: ProductLine.objects.create(tenant=world.tenant, name=name, code=code)
            for code, name in (("fw", "Firewall"), ("sdwan", "SD-WAN"))
        }


def body(lines: dict[str, ProductLine], **overrides: Any) -> dict[str, Any]:
    data = {
        "customer_name": "Initech Corporation",
        "customer_domain": "initech.example",
        "customer_country": "US",
        "customer_contact_name": "Bill Lumbergh",
        "customer_contact_email": "bill@initech.example",
        "product_lines": [str(lines["fw"].pk)],
        "estimated_value": "25000.00",
        "currency": "USD",
        "expected_close_date": (date.today() + timedelta(days=60)).isoformat(),
        "description": "Firewall refresh",
    }
    data.update(overrides)
    return data


def submitted(world, lines, member=None, **fields: Any) -> DealRegistration:
    """A registration submitted through the service, as the portal does."""
    member = member or world[Role.PARTNER_USER]
    data = {
        "customer_name": "Initech Corporation",
        "customer_domain": "initech.example",
        "customer_country": "US",
        "estimated_value": Decimal("25000.00"),
        "currency": "USD",
        "expected_close_date": date.today() + timedelta(days=60),
        **fields,
    }
    with world.scope():
        return services.submit(
            tenant=world.tenant,
            by=member,
            given=services.RegistrationInput(data=data, product_lines=[lines["fw"]]),
            client_token=uuid.uuid4(),
        )


def rival_member(world):
    """A partner user of the world's other partner (not managed by the
    world's channel manager)."""
    with world.scope():
        return factories.make_member(
            world.tenant,
            Role.PARTNER_USER,
            partner=world.other_partner,
            email=f"rival.{uuid.uuid4().hex[:6]}@{world.tenant.slug}.test",
        )


def url(registration: DealRegistration, action: str = "") -> str:
    return f"{REGISTRATIONS}{registration.pk}/" + (f"{action}/" if action else "")
