"""Tier moves (the partner directory's metrics, from the dated tier
history) and partners in a grace period (the program's)."""

import datetime as dt

import pytest
import time_machine

from partners import tiers as tier_history
from partners.models import TierChange
from prm.tenancy.declarations import NO_FILTERS, Filters, Period
from program.evaluation import Trigger, evaluate
from tests.metric_probe import compute, metric

from . import builders as b

pytestmark = pytest.mark.django_db
JUNE = Period(dt.date(2026, 6, 1), dt.date(2026, 6, 30))


def noon(day):
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def test_moves_up_and_down_in_the_period(acme):
    with acme.scope():
        tiers = b.ladder(acme)
        TierChange.objects.update(effective_on=dt.date(2025, 1, 1))
        for day, partner, tier in [
            (dt.date(2026, 5, 31), acme.partner, "Platinum"),  # before June: not counted
            (dt.date(2026, 6, 1), acme.partner, "Silver"),  # down
            (dt.date(2026, 6, 30), acme.partner, "Gold"),  # up
            (dt.date(2026, 6, 10), acme.other_partner, "Registered"),  # down
            (dt.date(2026, 7, 1), acme.other_partner, "Gold"),  # after June
        ]:
            with time_machine.travel(noon(day), tick=False):
                tier_history.set_tier(partner, tiers[tier], by=None, reason="manual")
    assert compute(acme, "partners.tier_moves_up", JUNE) == 1
    assert compute(acme, "partners.tier_moves_down", JUNE) == 2
    silver = Filters(tier=tiers["Silver"].pk)
    # Into or out of Silver: the partner's move down into it and up out of it.
    assert compute(acme, "partners.tier_moves_down", JUNE, silver) == 1
    assert compute(acme, "partners.tier_moves_up", JUNE, silver) == 1
    with acme.scope():
        rows = metric("partners.tier_moves_down").rows(acme.tenant, JUNE, NO_FILTERS)
        assert {r.tier.name for r in rows} == {"Silver", "Registered"}


def test_partners_in_grace(acme):
    with acme.scope():
        tiers = b.ladder(acme)
        b.version(acme, {tiers["Gold"]: (0, [(b.Kind.WON_REVENUE, "100", True, None)])})
        assert compute(acme, "program.partners_in_grace", JUNE) == 0
        evaluate(acme.tenant, trigger=Trigger.ON_DEMAND)  # both Gold partners fall short
    assert compute(acme, "program.partners_in_grace", JUNE) == 2
    other_type = Filters(partner_type="msp")
    assert compute(acme, "program.partners_in_grace", JUNE, other_type) == 0
