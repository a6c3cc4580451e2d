"""Tier criteria, wins and certifications for the program tests, inside
the world's scope."""

import datetime as dt
from decimal import Decimal

from dealreg.models import DealRegistration
from incentives.models import ExchangeRate
from partners.models import Tier
from prm.tenancy.roles import Role
from program.models import CriteriaVersion, TierCriterion, TierTarget

Kind = TierCriterion.Kind


def ladder(world) -> dict[str, Tier]:
    """Registered (1), Silver (2), Gold (3) and Platinum (4): the world's
    Gold and Silver plus two more."""
    tiers = {t.name: t for t in Tier.objects.all()}
    tiers["Registered"] = Tier.objects.create(tenant=world.tenant, name="Registered", rank=1)
    tiers["Platinum"] = Tier.objects.create(tenant=world.tenant, name="Platinum", rank=4)
    return tiers


def version(world, targets, *, status=CriteriaVersion.Status.PUBLISHED, number=None):
    """``targets``: {tier: (counted_minimum, [(kind, threshold, required, certification)])}."""
    number = number or (CriteriaVersion.objects.count() + 1)
    found = CriteriaVersion.objects.create(tenant=world.tenant, number=number, status=status)
    for tier, (minimum, criteria) in targets.items():
        target = TierTarget.objects.create(
            tenant=world.tenant, version=found, tier=tier, counted_minimum=minimum
        )
        for kind, threshold, required, certification in criteria:
            TierCriterion.objects.create(
                tenant=world.tenant,
                target=target,
                kind=kind,
                threshold=Decimal(threshold),
                required=required,
                certification=certification,
            )
    return found


def win(world, partner, amount, *, on, currency=None, status=DealRegistration.Status.WON):
    """A registration approved a month before and won on ``on``."""
    currency = currency or world.tenant.base_currency
    decided = dt.datetime.combine(on - dt.timedelta(days=30), dt.time(12), tzinfo=dt.UTC)
    return DealRegistration.objects.create(
        tenant=world.tenant,
        partner=partner,
        submitted_by=world[Role.PARTNER_USER].user,
        customer_name=f"Customer {DealRegistration.objects.count() + 1}",
        customer_country="US",
        estimated_value=Decimal(amount),
        currency=currency,
        expected_close_date=on,
        status=status,
        submitted_at=decided - dt.timedelta(days=1),
        decided_at=decided,
        won_amount=Decimal(amount),
        won_currency=currency,
        won_close_date=on,
    )


def rate(world, currency, value, valid_from):
    return ExchangeRate.objects.create(
        tenant=world.tenant, currency=currency, rate=Decimal(value), valid_from=valid_from
    )
