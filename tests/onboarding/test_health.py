"""The onboarding-progress part of the health score and the "onboarding
stalled" at-risk rule (onboarding.health), read through the declarations, as
of a day: later data does not count. Test tenants are on UTC."""

from datetime import timedelta
from decimal import Decimal

import pytest

from onboarding.models import OnboardingSettings, PlanStep
from prm.tenancy import registry
from prm.tenancy.declarations import Reading

from .builders_figures import at, complete, d, joined, new_partner, plan

pytestmark = pytest.mark.django_db
D = Decimal
KEY = "onboarding.progress"


def readings(world, day, partners) -> dict:
    component = registry.health_components()[KEY]
    ids = [p.pk for p in partners]
    with world.scope():
        found = component.compute(world.tenant, day, ids)
        batch = component.compute_days(world.tenant, [day, day + timedelta(days=1)], ids)
    assert batch[day] == found  # the backfill's batch says the same
    return found


def flags(world, day, partners) -> dict:
    rule = registry.at_risk_rules()["onboarding.stalled"]
    with world.scope():
        return rule.evaluate(world.tenant, day, [p.pk for p in partners], {})


@pytest.fixture
def onboarding(acme, globex):
    """acme.partner: plan started 1 Mar 2026, steps due 8 Mar (done 5 Mar),
    15 Mar (done 16 Mar), 20 Mar (done 20 Mar), completed 20 Mar within its
    target. A new partner: plan started 20 Mar, steps due 27 Mar and 10 Apr,
    none done yet. The other partner has no plan."""
    mine = joined(acme, acme.partner, at(d(3, 1), 10))
    plan(
        acme,
        mine,
        at(d(3, 1), 10),
        [(d(3, 8), at(d(3, 5))), (d(3, 15), at(d(3, 16))), (d(3, 20), at(d(3, 20), 15))],
        completed=at(d(3, 20), 15),
        optional=[(d(3, 10), None)],
    )
    late = new_partner(acme, "Acme Slow Three", at(d(3, 20), 8))
    slow = plan(acme, late, at(d(3, 20), 8), [(d(3, 27), None), (d(4, 10), None)])
    theirs = joined(globex, globex.partner, at(d(3, 1)))
    plan(globex, theirs, at(d(3, 1)), [(d(3, 2), None)])
    return mine, late, slow


def test_a_plan_in_progress_reads_its_steps_done_on_time(acme, onboarding):
    mine, late, _ = onboarding
    found = readings(acme, d(3, 10), [mine, late, acme.other_partner])
    assert found[mine.pk] == Reading(D(1), "1 of 1 step due done on time")
    assert late.pk not in found  # not started yet
    assert acme.other_partner.pk not in found  # no plan: no data
    # 15 March: its step due that day is not due yet.
    assert readings(acme, d(3, 15), [mine])[mine.pk].value == D(1)
    # 16 March: done late, counts half.
    got = readings(acme, d(3, 16), [mine])[mine.pk]
    assert got == Reading(D("0.750"), "1 of 2 steps due done on time, 1 late")


def test_overdue_steps_lower_it_and_only_what_happened_by_the_day_counts(acme, onboarding):
    _, late, slow = onboarding
    assert readings(acme, d(3, 27), [late])[late.pk] == Reading(
        D(1), "Onboarding on track: no step due yet"
    )
    got = readings(acme, d(3, 28), [late])[late.pk]
    assert got.value == D(0)
    assert got.why == "0 of 1 step due done on time; 1 overdue: Step 1 (due 27 Mar 2026)"
    with acme.scope():
        step = PlanStep.objects.get(plan=slow, due_on=d(3, 27))
    complete(acme, step, at(d(3, 29), 10))
    assert readings(acme, d(3, 28), [late])[late.pk].value == D(0)  # not done yet then
    assert readings(acme, d(3, 29), [late])[late.pk].value == D("0.500")
    # 11 April: one late, one overdue.
    assert readings(acme, d(4, 11), [late])[late.pk].value == D("0.250")


def test_a_completed_plan_counts_for_180_days(acme, onboarding):
    mine, _, _ = onboarding
    got = readings(acme, d(3, 21), [mine])[mine.pk]
    assert got == Reading(D(1), "Onboarded in 19 days, within its target")
    assert readings(acme, d(3, 20) + timedelta(days=180), [mine])[mine.pk].value == D(1)
    assert mine.pk not in readings(acme, d(3, 20) + timedelta(days=181), [mine])


def test_a_plan_completed_after_its_target_reads_its_on_time_share(acme, onboarding):
    mine, _, _ = onboarding
    with acme.scope():
        found = mine.onboarding_plan
        found.target_on = d(3, 18)
        found.save()
    got = readings(acme, d(3, 25), [mine])[mine.pk]
    # Two of three required steps on time, one late (half).
    assert got == Reading(D("0.833"), "Onboarded in 19 days, 2 days past its target")


def test_a_cancelled_plan_says_nothing(acme, onboarding):
    _, late, slow = onboarding
    slow.status = "cancelled"
    with acme.scope():
        slow.save()
    assert readings(acme, d(3, 28), [late]) == {}


def test_the_other_tenants_plans_are_not_read(acme, globex, onboarding):
    found = readings(acme, d(3, 28), [globex.partner])
    assert found == {}
    assert readings(globex, d(3, 28), [globex.partner])[globex.partner.pk].value == D(0)


def test_stalled_and_past_target(acme, onboarding):
    mine, late, slow = onboarding
    partners = [mine, late, acme.other_partner]
    assert flags(acme, d(4, 9), partners) == {}  # 20 days without a step
    assert flags(acme, d(4, 10), partners) == {late.pk: "No onboarding step completed in 21 days"}
    with acme.scope():
        step = PlanStep.objects.get(plan=slow, due_on=d(3, 27))
    complete(acme, step, at(d(4, 10), 18))
    assert flags(acme, d(4, 10), partners) == {}  # progress that day
    assert flags(acme, d(4, 30), partners) == {}
    assert flags(acme, d(5, 1), partners) == {late.pk: "No onboarding step completed in 21 days"}
    # Past the target (18 June): stalled too by then.
    assert flags(acme, d(6, 19), partners) == {
        late.pk: "No onboarding step completed in 70 days; Onboarding 1 day past its target"
    }
    with acme.scope():
        OnboardingSettings.objects.create(tenant=acme.tenant, stalled_after_days=80)
    assert flags(acme, d(6, 19), partners) == {late.pk: "Onboarding 1 day past its target"}


def test_a_completed_plan_is_never_stalled(acme, onboarding):
    mine, _, _ = onboarding
    assert flags(acme, d(3, 19), [mine]) == {}
    assert flags(acme, d(9, 1), [mine]) == {}
