"""The program tests' world: acme on ``builders.TODAY`` (time stands still
there), its partners having joined long before, and the four-tier ladder."""

import datetime as dt

import pytest
import time_machine

from partners.models import TierChange
from prm.tenancy.roles import Role

from . import builders as b


@pytest.fixture
def world(acme):
    with acme.scope(), time_machine.travel(b.noon(b.TODAY), tick=False):
        # The world's partners joined before the day these tests live on.
        TierChange.objects.update(effective_on=dt.date(2025, 1, 1))
        yield acme


@pytest.fixture
def tiers(world):
    return b.ladder(world)


@pytest.fixture
def ops(world):
    return world.client(Role.OPS_ADMIN)
