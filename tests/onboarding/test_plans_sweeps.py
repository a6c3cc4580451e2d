"""Plan deadlines with time moved: a reminder to the step's owner some
days before it is due, an escalation to the channel manager and ops once a
required step is overdue, another once the plan passes its target; each
sent once. The hourly dispatch picks only tenants with a plan in progress."""

import datetime as dt

import pytest
import time_machine

from onboarding import plan_sweeps, plans, tasks
from onboarding.models import OnboardingSettings, Owner, Plan, PlanStep, StepKind
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role

from . import builders_plans as b

pytestmark = pytest.mark.django_db


def sent(kind):
    return list(Notification.objects.filter(kind=kind).select_related("user").order_by("pk"))


def who(notes):
    return sorted(n.user.email for n in notes)


def plan_steps(world):
    return b.template(
        world,
        [
            b.step(StepKind.CUSTOM, "Add your team", due_days=10),
            b.step(StepKind.KICKOFF, owner=Owner.CHANNEL_MANAGER, due_days=12),
            b.step(StepKind.CUSTOM, "Optional extra", due_days=5, required=False),
        ],
        target_days=30,
    )


@pytest.fixture
def started(acme):
    """A plan started at noon of a day, and that day."""
    day = dt.date(2031, 3, 3)
    with acme.scope(), time_machine.travel(b.noon(acme, day), tick=False):
        plan = b.start(acme, plan_steps(acme))
    return plan, day


def sweep_on(world, day, hour=12):
    moment = dt.datetime.combine(day, dt.time(hour), tzinfo=world.tenant.tzinfo)
    with world.scope(), time_machine.travel(moment, tick=False):
        return plan_sweeps.sweep(world.tenant)


def test_owners_are_reminded_once_before_a_step_is_due(acme, started):
    plan, day = started
    admin, manager = acme[Role.PARTNER_ADMIN].user, acme[Role.CHANNEL_MANAGER].user
    with acme.scope():
        assert OnboardingSettings.for_tenant(acme.tenant).step_reminder_days == 3
        # Day 6: the custom step is due in 4 days (not yet); the optional one is past.
        assert sweep_on(acme, day + dt.timedelta(days=6)).reminders == 0
        assert sent(plan_sweeps.STEP_DUE) == []

        result = sweep_on(acme, day + dt.timedelta(days=7))
        assert result.reminders == 1
        (note,) = sent(plan_sweeps.STEP_DUE)
        assert note.user == admin
        assert "Add your team" in note.title and "in 3 days" in note.title
        assert note.url == "/onboarding/"
        step = plan.steps.get(title="Add your team")
        assert step.reminded_at == b.noon(acme, day + dt.timedelta(days=7))

        assert sweep_on(acme, day + dt.timedelta(days=7), hour=13).reminders == 0
        assert sweep_on(acme, day + dt.timedelta(days=8)).reminders == 0

        # Day 9: the kickoff (the channel manager's) is due in 3 days.
        assert sweep_on(acme, day + dt.timedelta(days=9)).reminders == 1
        kickoff = sent(plan_sweeps.STEP_DUE)[-1]
        assert kickoff.user == manager
        assert acme.partner.name in kickoff.title
        assert kickoff.url == f"/admin/onboarding/plan/{plan.pk}/change/"
        assert len(sent(plan_sweeps.STEP_DUE)) == 2


def test_a_done_step_is_not_reminded(acme, started):
    plan, day = started
    with acme.scope():
        plans.tick(plan.steps.get(title="Add your team"), by=acme[Role.PARTNER_ADMIN])
        assert sweep_on(acme, day + dt.timedelta(days=7)).reminders == 0
        assert sent(plan_sweeps.STEP_DUE) == []


def test_overdue_required_steps_are_escalated_once_per_step(acme, started):
    plan, day = started
    expected = sorted(acme[r].user.email for r in (Role.OPS_ADMIN, Role.CHANNEL_MANAGER))
    with acme.scope():
        # Day 10: due today, not overdue; the optional step (due day 5) never escalates.
        assert sweep_on(acme, day + dt.timedelta(days=10)).escalations == 0

        result = sweep_on(acme, day + dt.timedelta(days=11))
        assert result.escalations == 1
        notes = sent(plan_sweeps.STEP_OVERDUE)
        assert who(notes) == expected
        assert "“Add your team” is overdue" in notes[0].title
        assert "was due" in notes[0].body and acme.partner.name in notes[0].body

        assert sweep_on(acme, day + dt.timedelta(days=12)).escalations == 0
        assert sweep_on(acme, day + dt.timedelta(days=13)).escalations == 1  # the kickoff
        assert len(sent(plan_sweeps.STEP_OVERDUE)) == 4  # two steps, two people each
        assert sweep_on(acme, day + dt.timedelta(days=20)).escalations == 0
        assert plan.steps.get(title="Optional extra").escalated_at is None


def test_steps_overdue_together_are_one_message_per_plan(acme):
    day = dt.date(2031, 5, 5)
    with acme.scope():
        with time_machine.travel(b.noon(acme, day), tick=False):
            b.start(
                acme,
                b.template(
                    acme,
                    [b.step("custom", "One", due_days=2), b.step("custom", "Two", due_days=3)],
                ),
            )
        assert sweep_on(acme, day + dt.timedelta(days=9)).escalations == 2
        notes = sent(plan_sweeps.STEP_OVERDUE)
        assert len(notes) == 2  # ops and the channel manager, one message each
        assert "2 onboarding steps are overdue" in notes[0].title
        assert "“One”" in notes[0].body and "“Two”" in notes[0].body


def test_a_plan_past_its_target_is_escalated_once(acme, started):
    plan, day = started
    with acme.scope():
        assert sweep_on(acme, day + dt.timedelta(days=30)).plans_overdue == 0  # the target day
        result = sweep_on(acme, day + dt.timedelta(days=31))
        assert result.plans_overdue == 1
        notes = sent(plan_sweeps.PLAN_OVERDUE)
        assert who(notes) == sorted(
            [acme[Role.OPS_ADMIN].user.email, acme[Role.CHANNEL_MANAGER].user.email]
        )
        assert "0 % of the required steps" in notes[0].body
        assert "“Add your team”" in notes[0].body
        plan.refresh_from_db()
        assert plan.overdue_escalated_at is not None
        assert sweep_on(acme, day + dt.timedelta(days=32)).plans_overdue == 0
        assert len(sent(plan_sweeps.PLAN_OVERDUE)) == 2


def test_a_partner_without_channel_manager_has_ops_told(acme):
    day = dt.date(2031, 3, 3)
    with acme.scope():
        with time_machine.travel(b.noon(acme, day), tick=False):
            b.start(acme, plan_steps(acme), partner=acme.other_partner)
        sweep_on(acme, day + dt.timedelta(days=9))
        kickoff = [n for n in sent(plan_sweeps.STEP_DUE) if "kickoff" in n.title]
        assert [n.user for n in kickoff] == [acme[Role.OPS_ADMIN].user]
        assert "Nobody manages this partner" in kickoff[0].body
        # The partner has no admin of ours: its own step's reminder reaches nobody, once.
        assert PlanStep.objects.filter(reminded_at__isnull=False).count() == 2


def test_completed_and_cancelled_plans_are_left_alone(acme, started):
    plan, day = started
    with acme.scope():
        Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.CANCELLED)
        result = sweep_on(acme, day + dt.timedelta(days=40))
        assert (result.synced, result.reminders, result.escalations, result.plans_overdue) == (
            0,
            0,
            0,
            0,
        )
        assert not Notification.objects.filter(kind__startswith="onboarding.").exists()


def test_the_dispatch_picks_only_tenants_with_a_plan_in_progress(acme, globex, started):
    plan, day = started
    with time_machine.travel(b.noon(acme, day + dt.timedelta(days=7)), tick=False):
        assert tasks.dispatch_plan_sweeps() == 1  # acme; globex has no plan
    with acme.scope():
        assert len(sent(plan_sweeps.STEP_DUE)) == 1  # the eager sweep ran
        Plan.objects.filter(pk=plan.pk).update(
            status=Plan.Status.COMPLETED, completed_at=b.noon(acme, day)
        )
    assert tasks.dispatch_plan_sweeps() == 0
