"""Deal protection is effective-dated: a registration is protected for the
period of the tier its partner held on the day it was submitted (the
tenant's local date), whatever tier the partner holds when it is decided."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from dealreg import services
from dealreg.decisions import protection_days
from dealreg.models import DealRegistration, TierProtection
from partners import tiers
from partners.models import Partner, Tier, TierChange
from prm.tenancy.roles import Role

# The partner moves from Silver to Gold on 10 March 2026 (a Tuesday).
MOVE = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SILVER_DAYS, GOLD_DAYS = 30, 120


@pytest.fixture
def silver_then_gold(acme):
    """acme's partner: Silver from 2025, Gold from 10 March 2026; Silver and
    Gold each with a protection period of their own."""
    with acme.scope():
        # Rows written at the real 'now' by the factories: from long ago.
        TierChange.objects.update(effective_on=date(2024, 1, 1))
        silver, gold = Tier.objects.get(name="Silver"), Tier.objects.get(name="Gold")
        tiers.set_tier(
            acme.partner,
            silver,
            by=None,
            reason=tiers.Reason.MANUAL,
            now=datetime(2025, 1, 6, 12, tzinfo=UTC),
        )
        TierProtection.objects.create(tenant=acme.tenant, tier=silver, protection_days=SILVER_DAYS)
        TierProtection.objects.create(tenant=acme.tenant, tier=gold, protection_days=GOLD_DAYS)
    return silver, gold


def move_to_gold(acme, gold):
    with time_machine.travel(MOVE, tick=False), acme.scope():
        tiers.set_tier(acme.partner, gold, by=None, reason=tiers.Reason.UPGRADE)


def approve_on(acme, registration, moment) -> DealRegistration:
    with time_machine.travel(moment, tick=False), acme.scope():
        return services.approve(registration, by=acme[Role.CHANNEL_MANAGER], reason="Fits")


def test_submitted_as_silver_and_approved_as_gold_gets_silver_protection(
    acme, silver_then_gold, submit_as
):
    _, gold = silver_then_gold
    with time_machine.travel(MOVE - timedelta(days=2), tick=False):
        registration = submit_as(acme)
    move_to_gold(acme, gold)
    decided_at = MOVE + timedelta(days=1)
    decided = approve_on(acme, registration, decided_at)
    assert decided.protected_until == date(2026, 3, 11) + timedelta(days=SILVER_DAYS)
    with acme.scope():
        assert Partner.objects.get(pk=acme.partner.pk).tier == gold


def test_submitted_on_the_day_of_the_move_gets_the_new_tier(acme, silver_then_gold, submit_as):
    _, gold = silver_then_gold
    move_to_gold(acme, gold)
    with time_machine.travel(MOVE + timedelta(hours=1), tick=False):
        registration = submit_as(acme)
    decided = approve_on(acme, registration, MOVE + timedelta(days=1))
    assert decided.protected_until == date(2026, 3, 11) + timedelta(days=GOLD_DAYS)


def test_submitted_as_gold_then_moved_down_keeps_gold_protection(acme, silver_then_gold, submit_as):
    silver, gold = silver_then_gold
    move_to_gold(acme, gold)
    with time_machine.travel(MOVE + timedelta(days=3), tick=False):
        registration = submit_as(acme)
    with time_machine.travel(MOVE + timedelta(days=5), tick=False), acme.scope():
        tiers.set_tier(acme.partner, silver, by=None, reason=tiers.Reason.DOWNGRADE)
    decided = approve_on(acme, registration, MOVE + timedelta(days=6))
    assert decided.protected_until == date(2026, 3, 16) + timedelta(days=GOLD_DAYS)


def test_the_submission_day_is_the_tenants_local_date(acme, silver_then_gold, submit_as):
    """Submitted at 01:00 UTC on the day of the move: still the day before
    in New York, so Silver's protection."""
    _, gold = silver_then_gold
    acme.tenant.timezone = "America/New_York"
    acme.tenant.save(update_fields=["timezone"])
    move_to_gold(acme, gold)  # effective 10 March, New York's date at 15:00 UTC
    with time_machine.travel(datetime(2026, 3, 10, 1, 0, tzinfo=UTC), tick=False):
        registration = submit_as(acme)
    with acme.scope():
        registration.refresh_from_db()
        assert acme.tenant.local_today(registration.submitted_at) == date(2026, 3, 9)
        assert protection_days(registration) == SILVER_DAYS
        registration.submitted_at = datetime(2026, 3, 10, 5, 0, tzinfo=UTC)  # 00:00 in New York
        assert protection_days(registration) == GOLD_DAYS


def test_a_registration_never_submitted_counts_the_tier_held_today(acme, silver_then_gold):
    _, gold = silver_then_gold
    move_to_gold(acme, gold)
    with acme.scope():
        draft = DealRegistration(tenant=acme.tenant, partner=acme.partner)
        assert draft.submitted_at is None
        assert protection_days(draft, MOVE - timedelta(days=1)) == SILVER_DAYS
        assert protection_days(draft, MOVE + timedelta(days=1)) == GOLD_DAYS
