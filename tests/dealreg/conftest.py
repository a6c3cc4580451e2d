"""Deal registration fixtures: product lines for both tenants and a helper
that submits a registration as a partner member."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from dealreg import services
from dealreg.models import ProductLine
from prm.tenancy.roles import Role


@pytest.fixture
def products(acme, globex):
    made = {}
    for world in (acme, globex):
        with world.scope():
            made[world.tenant.slug] = {
                code: ProductLine.objects.create(tenant=world.tenant, name=name, code=code)
                for code, name in (("fw", "Firewall"), ("sdwan", "SD-WAN"), ("edr", "Endpoint"))
            }
    return made


def registration_input(products, **overrides):
    data = {
        "customer_name": "Initech Corporation",
        "customer_domain": "initech.example",
        "customer_country": "US",
        "customer_contact_name": "Bill Lumbergh",
        "customer_contact_email": "bill@initech.example",
        "estimated_value": Decimal("25000.00"),
        "currency": "USD",
        "expected_close_date": date.today() + timedelta(days=60),
        "description": "Firewall refresh",
    }
    lines = overrides.pop("product_lines", None)
    data.update(overrides)
    return services.RegistrationInput(
        data=data, product_lines=lines if lines is not None else [products["fw"]]
    )


@pytest.fixture
def submit_as(products, django_capture_on_commit_callbacks):
    """submit_as(world, role=partner_user, member=None, now=None, **fields):
    submits as a partner member and runs what follows the commit (the
    conflict check, notification mails) as a worker would."""

    def _submit(world, role=Role.PARTNER_USER, member=None, now=None, **fields):
        member = member or world[role]
        with world.scope(), django_capture_on_commit_callbacks(execute=True):
            return services.submit(
                tenant=world.tenant,
                by=member,
                given=registration_input(products[world.tenant.slug], **fields),
                client_token=uuid.uuid4(),
                now=now,
            )

    return _submit
