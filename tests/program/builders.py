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


# --- Tier progress: certified engineers and a partner at a tier -------------------


def engineering(world, code="ce", name="Certified Engineer"):
    """A certification for technical people: its holders read as "certified
    engineers"."""
    from onboarding.models import Certification

    return Certification.objects.create(
        tenant=world.tenant, code=code, name=name, validity_years=2, functions=["technical"]
    )


def people(world, partner, count, *, prefix="engineer"):
    """``count`` more partner users at ``partner``."""
    from tests import factories

    start = partner.memberships.count()
    return [
        factories.make_member(
            world.tenant,
            Role.PARTNER_USER,
            partner=partner,
            email=f"{prefix}{start + i}.{partner.pk.hex[:6]}@{world.tenant.slug}.test",
        )
        for i in range(1, count + 1)
    ]


def certify(world, persons, certification, *, on=None):
    """Ops record ``certification`` for each of ``persons``, earned ``on``."""
    from onboarding import training

    on = on or world.tenant.local_today() - dt.timedelta(days=10)
    return [
        training.record(
            person=person, achievement=certification, completed_on=on, by=world[Role.OPS_ADMIN]
        )
        for person in persons
    ]


def at_tier(world, partner, tier):
    """``partner`` moved to ``tier`` by ops (with its history row)."""
    from partners import tiers as tier_history
    from partners.models import TierChange

    tier_history.set_tier(
        partner, tier, by=world[Role.OPS_ADMIN].user, reason=TierChange.Reason.MANUAL
    )
    return partner


def engineers_ladder(world, tiers, certification, *, gold=3, silver=1):
    """Published criteria: Silver needs ``silver`` certified engineers, Gold
    ``gold``."""
    return version(
        world,
        {
            tiers["Silver"]: (0, [(Kind.CERTIFIED, silver, True, certification)]),
            tiers["Gold"]: (0, [(Kind.CERTIFIED, gold, True, certification)]),
        },
    )


# The day the program tests live on (time moves from there).
TODAY = dt.date(2026, 6, 15)


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
