"""Onboarding's metrics (onboarding.metrics), read through the declarations
and checked against reporting's rollups (tests.metric_probe.compute), on one
story of a tenant on UTC in 2026:

    P1 acme.partner (reseller, Gold, US, the channel manager's): applied 20 Feb,
       joined and plan started 1 Mar (target 30 May); steps due 8 Mar (done
       5 Mar), 15 Mar (done 16 Mar: late), 20 Mar (done 20 Mar), an optional
       one due 10 Mar never done; plan completed 20 Mar. Its first deal:
       submitted 11 Mar, approved 12 Mar, won, closed 15 Apr.
    P2 acme.other_partner (reseller, Gold, US): added 10 Jan, no application;
       plan started 5 Mar (target 3 Jun); steps due 12 Mar (done 23:30 that
       day), 26 Mar (done 3 Apr), 5 Apr (done 10 Apr); completed 10 Apr. First
       deal submitted 25 Mar, approved 1 Jul.
    P3 (msp, Silver, GB: no region): joined, plan started 20 Mar; steps due
       27 Mar and 10 Apr, none done.
    P4 (referral, Gold, US): joined 15 Mar, no plan; first deal submitted
       18 Mar, approved 19 Mar, won, closed 30 Mar.
    P5 (si, Gold, US): joined, plan started 10 Mar, cancelled (its step due
       15 Mar was done 14 Mar); first deal submitted 30 Mar, approved 1 Apr.
    globex: a plan started 2 Mar and completed 4 Mar, a registration 3 Mar.
"""

from datetime import date
from decimal import Decimal

import pytest

from dealreg.models import DealRegistration
from onboarding.models import OnboardingSettings, Plan, PlanStep
from partners.models import Region, Tier
from prm.tenancy.declarations import Filters, Period
from prm.tenancy.roles import Role
from tests.metric_probe import APRIL, compute, drill, listed, metric, rows

from .builders_figures import (
    Status,
    applied,
    at,
    complete,
    d,
    joined,
    new_partner,
    plan,
    registration,
    won,
)

pytestmark = pytest.mark.django_db

MAY = Period(date(2026, 5, 1), date(2026, 5, 31))
Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))
D = Decimal


@pytest.fixture
def story(acme, globex):
    p1 = joined(acme, acme.partner, at(d(3, 1), 10))
    applied(acme, p1, at(d(2, 20), 10))
    plan(
        acme,
        p1,
        at(d(3, 1), 10),
        [(d(3, 8), at(d(3, 5))), (d(3, 15), at(d(3, 16))), (d(3, 20), at(d(3, 20), 15))],
        completed=at(d(3, 20), 15),
        optional=[(d(3, 10), None)],
    )
    won(acme, p1, at(d(3, 11)), at(d(3, 12)), d(4, 15))

    p2 = joined(acme, acme.other_partner, at(d(1, 10)))
    plan(
        acme,
        p2,
        at(d(3, 5), 9),
        [(d(3, 12), at(d(3, 12), 23.5)), (d(3, 26), at(d(4, 3))), (d(4, 5), at(d(4, 10), 11))],
        completed=at(d(4, 10), 11),
    )
    registration(
        acme, p2, status=Status.APPROVED, submitted_at=at(d(3, 25)), decided_at=at(d(7, 1))
    )

    with acme.scope():
        silver = Tier.objects.get(name="Silver")
    p3 = new_partner(
        acme, "Acme Managed Three", at(d(3, 20), 8), partner_type="msp", country="GB", tier=silver
    )
    p3_plan = plan(acme, p3, at(d(3, 20), 8), [(d(3, 27), None), (d(4, 10), None)])

    p4 = new_partner(acme, "Acme Referral Four", at(d(3, 15), 9), partner_type="referral")
    won(acme, p4, at(d(3, 18)), at(d(3, 19)), d(3, 30))

    p5 = new_partner(acme, "Acme Integrator Five", at(d(3, 10), 9), partner_type="si")
    plan(acme, p5, at(d(3, 10), 9), [(d(3, 15), at(d(3, 14)))], status="cancelled")
    registration(
        acme, p5, status=Status.APPROVED, submitted_at=at(d(3, 30), 10), decided_at=at(d(4, 1))
    )

    theirs = joined(globex, globex.partner, at(d(3, 2)))
    plan(globex, theirs, at(d(3, 2)), [(d(3, 3), at(d(3, 3)))], completed=at(d(3, 4)))
    registration(globex, theirs, submitted_at=at(d(3, 3)))
    return {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p5": p5, "p3_plan": p3_plan}


def pks(*partners):
    return sorted(p.pk for p in partners)


def test_partner_onboarding_time(acme, story):
    # From the start (application, else enrollment) to the first registration:
    # P4 3 days, P1 19 (from its application), P2 20, P5 20 (from their plans).
    assert compute(acme, "onboarding.partner_onboarding_time_median") == D("19.5")
    assert compute(acme, "onboarding.partner_onboarding_time_p90") == D("20.0")
    assert compute(acme, "onboarding.partner_onboarding_time_median", APRIL) is None
    s = story
    assert rows(acme, "onboarding.partner_onboarding_time_median") == pks(
        s["p1"], s["p2"], s["p4"], s["p5"]
    )


def test_time_to_onboard(acme, story):
    assert compute(acme, "onboarding.time_to_onboard_median") == D("19.0")
    assert compute(acme, "onboarding.time_to_onboard_p90") == D("19.0")
    assert compute(acme, "onboarding.time_to_onboard_median", APRIL) == D("36.0")
    assert compute(acme, "onboarding.time_to_onboard_median", Q1) == D("19.0")
    assert compute(acme, "onboarding.time_to_onboard_median", MAY) is None
    assert rows(acme, "onboarding.time_to_onboard_median", APRIL) == pks(story["p2"])


def test_within_target(acme, story):
    # Started in March: P1 and P2 completed within target, P3 in progress, P5 cancelled.
    assert compute(acme, "onboarding.within_target") == D("50.0")
    assert compute(acme, "onboarding.within_target", APRIL) is None
    s = story
    assert rows(acme, "onboarding.within_target") == pks(s["p1"], s["p2"], s["p3"], s["p5"])


def test_a_plan_completed_after_its_target_is_not_within_it(acme, story):
    with acme.scope():
        found = Plan.objects.get(partner=story["p1"])
        found.target_on = d(3, 19)
        found.save()
    assert compute(acme, "onboarding.within_target") == D("25.0")


def test_milestone_completion(acme, story):
    # Due in March: P1's three (two on time, the optional one left out), P2's
    # 12 Mar (done 23:30 that day) and 26 Mar (late), P3's 27 Mar (not done);
    # the cancelled plan's step does not count.
    assert compute(acme, "onboarding.milestone_completion") == D("50.0")
    assert compute(acme, "onboarding.milestone_completion", APRIL) == D("0.0")
    assert compute(acme, "onboarding.milestone_completion", MAY) is None
    assert drill(acme, "onboarding.milestone_completion") is None  # steps: no list shows them


def test_a_step_done_late_stays_late(acme, story):
    with acme.scope():
        step = PlanStep.objects.get(plan=story["p3_plan"], due_on=d(3, 27))
    complete(acme, step, at(d(3, 28)))
    assert compute(acme, "onboarding.milestone_completion") == D("50.0")
    complete(acme, step, at(d(3, 27), 23))
    assert compute(acme, "onboarding.milestone_completion") == D("66.7")


def test_time_to_first_won(acme, story):
    assert compute(acme, "onboarding.time_to_first_won_median") == D("15.0")  # P4
    assert compute(acme, "onboarding.time_to_first_won_median", APRIL) == D("45.0")  # P1
    assert compute(acme, "onboarding.time_to_first_won_p90", APRIL) == D("45.0")
    assert compute(acme, "onboarding.time_to_first_won_median", MAY) is None
    assert rows(acme, "onboarding.time_to_first_won_median") == pks(story["p4"])


def test_a_reversed_win_is_no_first_won_deal(acme, story):
    with acme.scope():
        deal = DealRegistration.objects.get(partner=story["p4"])
        deal.status = Status.REVERSED
        deal.save()
    assert compute(acme, "onboarding.time_to_first_won_median") is None
    assert compute(acme, "onboarding.activation_rate") == D("20.0")


def test_activation_rate(acme, story):
    # Enrolled in March: P1 (1 Mar, won 15 Apr), P2 (its plan, 5 Mar), P3, P4
    # (added 15 Mar, won 30 Mar), P5 (10 Mar).
    assert compute(acme, "onboarding.activation_rate") == D("40.0")
    assert compute(acme, "onboarding.activation_rate", Q1) == D("40.0")
    assert compute(acme, "onboarding.activation_rate", APRIL) is None
    s = story
    assert rows(acme, "onboarding.activation_rate") == pks(
        s["p1"], s["p2"], s["p3"], s["p4"], s["p5"]
    )
    # By a first approved registration: P5 too (1 Apr); P2's came after 90 days.
    with acme.scope():
        OnboardingSettings.objects.create(
            tenant=acme.tenant, activation=OnboardingSettings.Activation.APPROVED
        )
    assert compute(acme, "onboarding.activation_rate") == D("60.0")


def test_stalled_plans_as_at_the_periods_end(acme, story):
    def on(day):
        return compute(acme, "onboarding.stalled_plans", Period(d(3, 1), day))

    assert on(d(3, 31)) == 0
    assert on(d(4, 1)) == 0  # P2: 20 days since its 12 March step
    assert on(d(4, 2)) == 1  # 21 days
    assert rows(acme, "onboarding.stalled_plans", Period(d(4, 1), d(4, 2))) == pks(story["p2"])
    # 10 April: P2 completed that day; P3 has had nothing done since its start.
    assert on(d(4, 10)) == 1
    assert rows(acme, "onboarding.stalled_plans", Period(d(4, 1), d(4, 10))) == pks(story["p3"])
    with acme.scope():
        OnboardingSettings.objects.create(tenant=acme.tenant, stalled_after_days=30)
    assert on(d(4, 10)) == 0
    assert on(d(4, 19)) == 1
    # A step done before its plan started (an agreement accepted earlier)
    # dates no progress before the start.
    early = new_partner(acme, "Acme Early Six", at(d(4, 20)))
    plan(acme, early, at(d(4, 20)), [(d(4, 27), at(d(3, 1))), (d(5, 10), None)])
    assert on(d(5, 19)) == 1  # P3 only: 29 days since the start
    assert on(d(5, 20)) == 2


def test_filters(acme, story):
    mine = Filters(channel_manager=acme[Role.CHANNEL_MANAGER].user.pk)
    assert compute(acme, "onboarding.partner_onboarding_time_median", filters=mine) == D("19.0")
    assert compute(acme, "onboarding.within_target", filters=mine) == D("100.0")
    assert compute(acme, "onboarding.milestone_completion", filters=mine) == D("66.7")
    assert compute(acme, "onboarding.activation_rate", filters=mine) == D("100.0")
    assert compute(acme, "onboarding.time_to_first_won_median", filters=mine) is None

    msp = Filters(partner_type="msp")
    assert compute(acme, "onboarding.within_target", filters=msp) == D("0.0")
    assert compute(acme, "onboarding.milestone_completion", filters=msp) == D("0.0")
    assert compute(acme, "onboarding.partner_onboarding_time_median", filters=msp) is None
    assert rows(acme, "onboarding.activation_rate", filters=msp) == pks(story["p3"])

    with acme.scope():
        silver = Tier.objects.get(name="Silver").pk
        gold = Tier.objects.get(name="Gold").pk
        na = Region.objects.get(code="na").pk
    april = Period(d(4, 1), d(4, 30))
    assert compute(acme, "onboarding.stalled_plans", april, Filters(tier=silver)) == 1
    assert compute(acme, "onboarding.stalled_plans", april, Filters(tier=gold)) == 0
    assert compute(acme, "onboarding.activation_rate", filters=Filters(tier=gold)) == D("50.0")
    # P3 is in no region.
    assert compute(acme, "onboarding.within_target", filters=Filters(region=na)) == D("66.7")


def test_the_other_tenants_data_never_counts(acme, globex, story):
    assert compute(globex, "onboarding.time_to_onboard_median") == D("2.0")
    assert compute(globex, "onboarding.within_target") == D("100.0")
    assert compute(globex, "onboarding.milestone_completion") == D("100.0")
    assert compute(globex, "onboarding.partner_onboarding_time_median") == D("1.0")
    assert compute(globex, "onboarding.stalled_plans", APRIL) == 0
    assert compute(acme, "onboarding.time_to_onboard_median") == D("19.0")
    assert rows(globex, "onboarding.within_target") == pks(globex.partner)


def test_each_figure_drills_to_the_partners_it_counts(acme, story):
    for key, declared in sorted((k, m) for k, m in _declared().items() if m.rows is not None):
        period = Period(d(3, 1), d(4, 30))
        url = drill(acme, key, period)
        assert listed(acme, Role.OPS_ADMIN, url) == rows(acme, key, period), key
        assert metric(key) is declared


def _declared():
    from prm.tenancy import registry

    return {k: m for k, m in registry.metrics().items() if k.startswith("onboarding.")}


def test_declared_metrics():
    keys = set(_declared())
    assert keys == {
        "onboarding.partner_onboarding_time_median",
        "onboarding.partner_onboarding_time_p90",
        "onboarding.time_to_onboard_median",
        "onboarding.time_to_onboard_p90",
        "onboarding.within_target",
        "onboarding.milestone_completion",
        "onboarding.time_to_first_won_median",
        "onboarding.time_to_first_won_p90",
        "onboarding.activation_rate",
        "onboarding.stalled_plans",
        "onboarding.certified_people",
        "onboarding.certifications_expiring",
        "onboarding.training_completion",
    }
