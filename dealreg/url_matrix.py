"""Deal registration's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only (``PRMApp.url_matrix``): its portal routes, and one
object of a tenant per admin model. Each factory returns the same object
when called again for the same tenant."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dealreg import services
from dealreg.models import (
    ClosureDay,
    CustomField,
    DealRegistration,
    DealRegSettings,
    DirectOpportunity,
    ProductLine,
    RoutingRule,
    TierProtection,
)
from prm.tenancy.roles import Role


def _product(world: Any) -> ProductLine:
    product, _ = ProductLine.objects.get_or_create(
        tenant=world.tenant, code="matrix", defaults={"name": "Matrix product"}
    )
    return product


def _input(world: Any, customer: str, **fields: Any) -> services.RegistrationInput:
    return services.RegistrationInput(
        data={
            "customer_name": customer,
            "customer_country": "US",
            "estimated_value": Decimal("1000.00"),
            "currency": "USD",
            "expected_close_date": date.today() + timedelta(days=30),
            **fields,
        },
        product_lines=[_product(world)],
    )


def registration(world: Any) -> DealRegistration:
    """A submitted registration of the world's partner."""
    with world.scope():
        existing = DealRegistration.objects.exclude(status=DealRegistration.Status.DRAFT).first()
        if existing is not None:
            return existing
        return services.submit(
            tenant=world.tenant,
            by=world[Role.PARTNER_USER],
            given=_input(world, "Matrix Admin Customer", customer_domain="matrix-admin.example"),
            client_token=uuid.uuid4(),
        )


def product_line(world: Any) -> ProductLine:
    with world.scope():
        return _product(world)


def routing_rule(world: Any) -> RoutingRule:
    with world.scope():
        rule, _ = RoutingRule.objects.get_or_create(
            tenant=world.tenant,
            name="Matrix rule",
            defaults={"approver": world[Role.CHANNEL_MANAGER].user, "priority": 500},
        )
        return rule


def settings_row(world: Any) -> DealRegSettings:
    with world.scope():
        return DealRegSettings.for_tenant(world.tenant)


def closure_day(world: Any) -> ClosureDay:
    with world.scope():
        day, _ = ClosureDay.objects.get_or_create(
            tenant=world.tenant, day=date(2031, 12, 24), defaults={"name": "Matrix closure"}
        )
        return day


def tier_protection(world: Any) -> TierProtection:
    with world.scope():
        protection, _ = TierProtection.objects.get_or_create(
            tenant=world.tenant, tier=world.partner.tier, defaults={"protection_days": 120}
        )
        return protection


def custom_field(world: Any) -> CustomField:
    with world.scope():
        field, _ = CustomField.objects.get_or_create(
            tenant=world.tenant, key="matrix", defaults={"label": "Matrix question"}
        )
        return field


def direct_opportunity(world: Any) -> DirectOpportunity:
    with world.scope():
        opportunity, _ = DirectOpportunity.objects.get_or_create(
            tenant=world.tenant,
            external_id="MATRIX-1",
            defaults={
                "customer_name": "Matrix Direct Customer",
                "customer_name_normalized": "matrix direct customer",
            },
        )
        return opportunity


ADMIN_OBJECTS = {
    "dealreg.dealregistration": registration,
    "dealreg.productline": product_line,
    "dealreg.routingrule": routing_rule,
    "dealreg.dealregsettings": settings_row,
    "dealreg.closureday": closure_day,
    "dealreg.tierprotection": tier_protection,
    "dealreg.customfield": custom_field,
    "dealreg.directopportunity": direct_opportunity,
}
# The settings are one row per tenant: nobody adds or deletes it.
ADMIN_NOBODY = {
    ("dealreg.dealregsettings", "add"),
    ("dealreg.dealregsettings", "delete"),
}
CUSTOM_ADMIN_VIEWS = {
    "dealreg_directopportunity_import": "dealreg.import_directopportunity",
}


def draft(world: Any) -> list[str]:
    """A draft of the world's partner (whose members are the partner personas)."""
    with world.scope():
        registration = services.save_draft(
            tenant=world.tenant, by=world[Role.PARTNER_USER], given=_input(world, "Matrix Customer")
        )
    return [registration.code]


PARTNERS = {Role.PARTNER_ADMIN, Role.PARTNER_USER}
PORTAL_ROUTES: dict = {
    "dealreg:list": {"allowed": PARTNERS},
    "dealreg:export": {"allowed": PARTNERS},
    "dealreg:new": {"allowed": PARTNERS},
    "dealreg:detail": {"allowed": PARTNERS, "args": draft},
    "dealreg:edit": {"allowed": PARTNERS, "args": draft},
    "dealreg:answer": {"allowed": PARTNERS, "args": draft},
    "dealreg:submit": {"allowed": PARTNERS, "method": "post", "args": draft},
    "dealreg:message": {"allowed": PARTNERS, "method": "post", "args": draft},
    "dealreg:withdraw": {"allowed": PARTNERS, "args": draft},
    "dealreg:delete": {"allowed": PARTNERS, "args": draft},
    "dealreg:extension": {"allowed": PARTNERS, "method": "post", "args": draft},
    "dealreg:outcome": {"allowed": PARTNERS, "method": "post", "args": draft},
}


# One object of a tenant per API resource (tests/api/test_api_matrix.py),
# by the route's basename.
API_OBJECTS: dict = {
    "registration": registration,
    "product-line": product_line,
    "direct-opportunity": direct_opportunity,
}
