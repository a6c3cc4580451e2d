"""Incentives fixtures: plans with published versions and won deals made
directly (the deal registration workflow is tested in tests/dealreg)."""

import itertools
from datetime import date
from decimal import Decimal

from dealreg.models import DealRegistration, ProductLine
from incentives import plans
from incentives.models import Bracket, ExchangeRate, Plan, PlanVersion
from prm.tenancy.roles import Role
from tests.dealreg import conftest as dealreg_fixtures

_seq = itertools.count(1)

# The deal registration fixtures, for tests that go through the workflow.
products = dealreg_fixtures.products
submit_as = dealreg_fixtures.submit_as


def make_plan(
    world,
    *,
    kind=Plan.Kind.COMMISSION,
    rate_type=PlanVersion.RateType.PERCENT,
    rate_percent=Decimal("10"),
    brackets=(),
    effective_from=date(2020, 1, 1),
    publish=True,
    name=None,
    **rule,
) -> PlanVersion:
    """A plan with one version (published unless ``publish=False``)."""
    tenant = world.tenant
    plan = Plan.objects.create(tenant=tenant, name=name or f"Plan {next(_seq)}", kind=kind)
    products = rule.pop("product_lines", [])
    tiers = rule.pop("tiers", [])
    regions = rule.pop("regions", [])
    version = PlanVersion.objects.create(
        tenant=tenant,
        plan=plan,
        number=1,
        effective_from=effective_from,
        rate_type=rate_type,
        rate_percent=rate_percent if rate_type == PlanVersion.RateType.PERCENT else None,
        **rule,
    )
    version.product_lines.set(products)
    version.tiers.set(tiers)
    version.regions.set(regions)
    for lower, percent in brackets:
        Bracket.objects.create(
            tenant=tenant, version=version, lower=Decimal(lower), rate_percent=Decimal(percent)
        )
    if publish:
        version = plans.publish(version, by=world[Role.OPS_ADMIN])
    return version


def euro_rate_and_plan(world) -> PlanVersion:
    """A euro rate from 2026 (1.0837) and a published 8.5 % commission plan:
    a ledger with two currencies, for tests of the whole ledger."""
    ExchangeRate.objects.create(
        tenant=world.tenant, currency="EUR", valid_from=date(2026, 1, 1), rate=Decimal("1.0837")
    )
    return make_plan(world, rate_percent=Decimal("8.5"))


def make_won_deal(
    world,
    amount="1000.00",
    *,
    currency="USD",
    close_date=None,
    partner=None,
    products=None,
    status=DealRegistration.Status.WON,
) -> DealRegistration:
    """A registration recorded as won (no signal sent: call
    ``ledger.sync_deal`` or the task yourself)."""
    tenant = world.tenant
    close_date = close_date or date.today()
    registration = DealRegistration.objects.create(
        tenant=tenant,
        partner=partner or world.partner,
        submitted_by=world[Role.PARTNER_USER].user,
        customer_name=f"Customer {next(_seq)}",
        customer_name_normalized="customer",
        customer_country="US",
        estimated_value=Decimal(amount),
        currency=currency,
        expected_close_date=close_date,
        status=status,
        won_amount=Decimal(amount),
        won_currency=currency,
        won_close_date=close_date,
    )
    if products is None:
        line = ProductLine.objects.filter(code="fw").first() or ProductLine.objects.create(
            tenant=tenant, name="Firewall", code="fw"
        )
        products = [line]
    registration.product_lines.set(products)
    return registration
