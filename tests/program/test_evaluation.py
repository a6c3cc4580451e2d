"""Tier evaluation: the figures on edge cases (exactly at the threshold, a
certification expiring that day, wins in other currencies, reversed wins),
required and counted criteria, upgrades at once or at review, grace
periods and holds as time moves, by-invitation tiers."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from dealreg.models import DealRegistration
from partners import tiers as tier_history
from partners.models import TierChange
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role
from program import holds
from program.errors import ProgramError
from program.evaluation import Trigger, evaluate, upgrade_check
from program.figures import Needs, measure
from program.models import Evaluation, QualificationSettings, TierStanding
from program.sweeps import sweep
from tests.onboarding import builders_training as tb

from . import builders as b
from .builders import TODAY, noon

pytestmark = pytest.mark.django_db
Kind = b.Kind


def revenue_ladder(world, tiers, gold="250000", silver="100000"):
    return b.version(
        world,
        {
            tiers["Silver"]: (0, [(Kind.WON_REVENUE, silver, True, None)]),
            tiers["Gold"]: (0, [(Kind.WON_REVENUE, gold, True, None)]),
        },
    )


def standing(partner) -> TierStanding:
    return TierStanding.objects.get(partner=partner)


class TestFigures:
    def test_exactly_at_the_threshold_qualifies(self, world, tiers):
        revenue_ladder(world, tiers)
        b.win(world, world.partner, "250000.00", on=TODAY)
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        assert standing(world.partner).qualifying_tier == tiers["Gold"]

    def test_a_cent_short_does_not(self, world, tiers):
        revenue_ladder(world, tiers)
        b.win(world, world.partner, "249999.99", on=TODAY)
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        assert standing(world.partner).qualifying_tier == tiers["Silver"]

    def test_the_trailing_twelve_months(self, world, tiers):
        needs = Needs(frozenset({Kind.WON_REVENUE}))
        b.win(world, world.partner, "100", on=dt.date(2025, 6, 15))  # a year before: out
        b.win(world, world.partner, "10", on=dt.date(2025, 6, 16))  # in
        b.win(world, world.partner, "1", on=TODAY)  # in
        b.win(world, world.partner, "1000", on=TODAY + dt.timedelta(days=1))  # future: out
        found = measure(world.tenant, TODAY, [world.partner.pk], needs)
        assert found[world.partner.pk].won_revenue == Decimal("11.00")

    def test_reversed_wins_do_not_count(self, world, tiers):
        needs = Needs(frozenset({Kind.WON_REVENUE}))
        b.win(world, world.partner, "500", on=TODAY)
        b.win(world, world.partner, "9000", on=TODAY, status=DealRegistration.Status.REVERSED)
        found = measure(world.tenant, TODAY, [world.partner.pk], needs)
        assert found[world.partner.pk].won_revenue == Decimal("500.00")

    def test_other_currencies_at_the_rate_on_the_close_date(self, world, tiers):
        needs = Needs(frozenset({Kind.WON_REVENUE}))
        b.rate(world, "EUR", "1.10", dt.date(2026, 1, 1))
        b.rate(world, "EUR", "1.20", dt.date(2026, 5, 1))
        b.win(world, world.partner, "1000", on=dt.date(2026, 4, 30), currency="EUR")  # 1.10
        b.win(world, world.partner, "1000", on=dt.date(2026, 5, 1), currency="EUR")  # 1.20
        b.win(world, world.partner, "333.33", on=TODAY)  # base currency
        b.win(world, world.partner, "1000", on=TODAY, currency="GBP")  # no rate: left out
        b.win(world, world.partner, "1000", on=dt.date(2025, 12, 31), currency="EUR")  # no rate yet
        mine = measure(world.tenant, TODAY, [world.partner.pk], needs)[world.partner.pk]
        assert mine.won_revenue == Decimal("2633.33")
        assert mine.unconverted_wins == 2

    def test_a_certification_stops_counting_the_day_it_expires(self, world, tiers):
        cert = tb.certification(world, years=1)
        # Earned a year ago today: expires today.
        tb.earned(world, cert, on=dt.date(2025, 6, 15))
        needs = Needs(frozenset({Kind.CERTIFIED}), frozenset({cert.pk}))
        before = measure(world.tenant, TODAY - dt.timedelta(days=1), [world.partner.pk], needs)
        on_the_day = measure(world.tenant, TODAY, [world.partner.pk], needs)
        assert before[world.partner.pk].certified == {cert.pk: 1}
        assert on_the_day[world.partner.pk].certified == {}

    def test_approved_registrations_count_decisions_not_rejections(self, world, tiers):
        needs = Needs(frozenset({Kind.APPROVED}))
        b.win(world, world.partner, "1", on=TODAY)
        b.win(world, world.partner, "1", on=TODAY, status=DealRegistration.Status.REJECTED)
        b.win(world, world.partner, "1", on=TODAY, status=DealRegistration.Status.LOST)
        mine = measure(world.tenant, TODAY, [world.partner.pk], needs)[world.partner.pk]
        assert mine.approved == 2


class TestCriteria:
    def test_required_and_counted(self, world, tiers):
        cert = tb.certification(world)
        b.version(
            world,
            {
                tiers["Gold"]: (
                    1,
                    [
                        (Kind.WON_REVENUE, "1000", True, None),
                        (Kind.CERTIFIED, "1", False, cert),
                        (Kind.APPROVED, "5", False, None),
                    ],
                )
            },
        )
        b.win(world, world.partner, "1000", on=TODAY)
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        # Revenue met, neither counted criterion: the floor.
        assert standing(world.partner).qualifying_tier == tiers["Registered"]
        tb.earned(world, cert, on=TODAY)
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        assert standing(world.partner).qualifying_tier == tiers["Gold"]

    def test_nothing_to_evaluate_without_published_criteria(self, world, tiers):
        with pytest.raises(ProgramError, match="Publish the tier criteria"):
            evaluate(world.tenant, trigger=Trigger.ON_DEMAND)


class TestMoves:
    def test_an_upgrade_applies_at_once_and_is_dated(self, world, tiers):
        revenue_ladder(world, tiers, gold="100", silver="10")
        partner = world.partner
        tier_history.set_tier(partner, tiers["Silver"], by=None, reason="manual")
        b.win(world, partner, "100", on=TODAY)
        run = evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        partner.refresh_from_db()
        assert partner.tier == tiers["Gold"]
        assert run.upgrades == 1
        change = TierChange.objects.get(partner=partner, reason=TierChange.Reason.UPGRADE)
        assert (change.effective_on, change.previous) == (
            TODAY,
            tiers["Silver"],
        )
        # The partner's history moved too (the directory's metrics read it).
        assert partner.history.latest("history_date").tier_id == tiers["Gold"].pk
        assert Notification.objects.filter(kind="program.tier_changed").exists()

    def test_upgrades_at_review_wait_for_the_review(self, world, tiers):
        policy = QualificationSettings.for_tenant(world.tenant)
        policy.upgrades = policy.Upgrades.AT_REVIEW
        policy.save()
        revenue_ladder(world, tiers, gold="100", silver="10")
        partner = world.other_partner
        tier_history.set_tier(partner, tiers["Silver"], by=None, reason="manual")
        b.win(world, partner, "100", on=TODAY)
        run = evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        partner.refresh_from_db()
        assert partner.tier == tiers["Silver"] and run.pending_upgrades == 1
        evaluate(world.tenant, trigger=Trigger.REVIEW)
        partner.refresh_from_db()
        assert partner.tier == tiers["Gold"]

    def test_a_downgrade_waits_out_the_grace_period(self, world, tiers):
        revenue_ladder(world, tiers, gold="100", silver="10")
        policy = QualificationSettings.for_tenant(world.tenant)
        policy.grace_days = 30
        policy.save()
        partner = world.partner  # Gold, no wins
        run = evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        assert run.graces_opened == 2  # both of the world's Gold partners
        assert standing(partner).grace_until == TODAY + dt.timedelta(days=29)
        note = Notification.objects.get(
            kind="program.grace_started", user=world[Role.PARTNER_ADMIN].user
        )
        assert "keeps Gold through" in note.body
        # Still in grace on its last day: Gold.
        last = TODAY + dt.timedelta(days=29)
        with time_machine.travel(noon(last), tick=False):
            sweep(world.tenant)
            evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        partner.refresh_from_db()
        assert partner.tier == tiers["Gold"]
        # The day after: the daily round moves it to what it qualifies for.
        after = last + dt.timedelta(days=1)
        with time_machine.travel(noon(after), tick=False):
            assert sweep(world.tenant).evaluated == 2  # both partners
        partner.refresh_from_db()
        assert partner.tier == tiers["Registered"]
        assert standing(partner).grace_until is None
        assert tier_history.tier_on(partner, last) == tiers["Gold"]
        assert tier_history.tier_on(partner, after) == tiers["Registered"]

    def test_qualifying_again_closes_the_grace_period(self, world, tiers):
        revenue_ladder(world, tiers, gold="100", silver="10")
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        assert standing(world.partner).grace_until is not None
        b.win(world, world.partner, "100", on=TODAY)
        run = evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        assert run.graces_closed >= 1
        assert standing(world.partner).grace_until is None

    def test_a_hold_keeps_the_tier_until_it_ends(self, world, tiers):
        revenue_ladder(world, tiers, gold="100", silver="10")
        ops = world[Role.OPS_ADMIN].user
        partner = world.partner
        end = TODAY + dt.timedelta(days=10)
        holds.hold(partner, tiers["Silver"], reason="Strategic launch partner", ends_on=end, by=ops)
        partner.refresh_from_db()
        assert partner.tier == tiers["Silver"]
        run = evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        partner.refresh_from_db()
        assert partner.tier == tiers["Silver"] and run.graces_opened == 1  # the other partner
        assert standing(partner).grace_until is None
        with time_machine.travel(noon(end + dt.timedelta(days=1)), tick=False):
            result = sweep(world.tenant)
        assert result.holds_ended == 1
        # Held no more and below Silver's criteria: a grace period opens.
        assert standing(partner).grace_until is not None

    def test_hold_refusals(self, world, tiers):
        ops = world[Role.OPS_ADMIN].user
        with pytest.raises(ProgramError, match="Say why"):
            holds.hold(world.partner, tiers["Gold"], reason=" ", ends_on=TODAY, by=ops)
        with pytest.raises(ProgramError, match="today"):
            holds.hold(
                world.partner,
                tiers["Gold"],
                reason="x",
                ends_on=TODAY - dt.timedelta(days=1),
                by=ops,
            )
        holds.hold(world.partner, tiers["Gold"], reason="x", ends_on=TODAY, by=ops)
        with pytest.raises(ProgramError, match="already held"):
            holds.hold(world.partner, tiers["Silver"], reason="y", ends_on=TODAY, by=ops)

    def test_a_by_invitation_tier_is_left_alone(self, world, tiers):
        revenue_ladder(world, tiers, gold="100", silver="10")
        tier_history.set_tier(world.partner, tiers["Platinum"], by=None, reason="manual")
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        world.partner.refresh_from_db()
        assert world.partner.tier == tiers["Platinum"]
        assert standing(world.partner).grace_until is None

    def test_the_scheduled_review_runs_once_on_its_day(self, world, tiers):
        revenue_ladder(world, tiers)
        policy = QualificationSettings.for_tenant(world.tenant)
        policy.schedule, policy.review_day = policy.Schedule.MONTHLY, 15
        policy.save()
        assert sweep(world.tenant).review is True
        assert sweep(world.tenant).review is False  # done for the day


class TestUpgradeOnEvents:
    def test_a_confirmed_certification_lifts_the_partner_at_once(
        self, world, tiers, django_capture_on_commit_callbacks
    ):
        cert = tb.certification(world, functions=["technical"])
        b.version(
            world,
            {
                tiers["Gold"]: (0, [(Kind.WON_REVENUE, "0", True, None)]),
                tiers["Platinum"]: (0, [(Kind.CERTIFIED, "1", True, cert)]),
            },
        )
        with django_capture_on_commit_callbacks(execute=True):
            tb.earned(world, cert, on=TODAY)
        world.partner.refresh_from_db()
        assert world.partner.tier == tiers["Platinum"]
        run = Evaluation.objects.get()
        assert (run.trigger, run.partners, run.upgrades, run.graces_opened) == (
            Trigger.EVENT,
            1,
            1,
            0,
        )

    def test_not_when_upgrades_wait_for_the_review(
        self, world, tiers, django_capture_on_commit_callbacks
    ):
        policy = QualificationSettings.for_tenant(world.tenant)
        policy.upgrades = policy.Upgrades.AT_REVIEW
        policy.save()
        cert = tb.certification(world)
        b.version(world, {tiers["Platinum"]: (0, [(Kind.CERTIFIED, "1", True, cert)])})
        with django_capture_on_commit_callbacks(execute=True):
            tb.earned(world, cert, on=TODAY)
        world.partner.refresh_from_db()
        assert world.partner.tier == tiers["Gold"]
        assert not Evaluation.objects.exists()

    def test_a_rise_elsewhere_opens_no_grace_period(self, world, tiers):
        # The partner misses Gold's revenue, but the event check only lifts.
        revenue_ladder(world, tiers, gold="100", silver="10")
        assert upgrade_check(world.tenant, world.partner.pk) is False
        assert not TierStanding.objects.exists()
