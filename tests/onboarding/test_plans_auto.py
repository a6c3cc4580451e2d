"""Plan steps that complete themselves from what happens elsewhere: a first
registration submitted and approved through deal registration's services
(signal → kick → the eager sync task), an agreement accepted, the company
profile completed, a course reported; the plan completing with its last
required step; and which template a plan starts from."""

import datetime as dt

import pytest
from django.utils import timezone

from dealreg import services as dealreg
from onboarding import plan_sweeps, plans
from onboarding.errors import OnboardingError
from onboarding.models import Owner, Plan, PlanStep, StepKind
from prm.tenancy.roles import Role
from tests import factories

from . import builders_plans as b

pytestmark = pytest.mark.django_db
Source = PlanStep.Source


def step_of(plan, kind) -> PlanStep:
    return PlanStep.objects.get(plan=plan, kind=kind)


def deal_steps(world):
    return b.template(
        world,
        [
            b.step(StepKind.FIRST_REGISTRATION, due_days=30),
            b.step(StepKind.FIRST_APPROVAL, due_days=60),
        ],
    )


# --- Deal registration ----------------------------------------------------------------


def test_first_registration_and_approval_complete_their_steps_and_the_plan(
    acme, django_capture_on_commit_callbacks
):
    started = timezone.now() - dt.timedelta(days=3)
    with acme.scope():
        plan = b.start(acme, deal_steps(acme), now=started)
        submitted_at = started + dt.timedelta(days=1)
        with django_capture_on_commit_callbacks(execute=True):
            registration = b.submit(acme, now=submitted_at)
        first = step_of(plan, StepKind.FIRST_REGISTRATION)
        assert first.completed_at == registration.submitted_at == submitted_at
        assert first.evidence == registration.code
        assert (first.source, first.completed_by) == (Source.AUTOMATIC, None)
        assert step_of(plan, StepKind.FIRST_APPROVAL).completed_at is None
        plan.refresh_from_db()
        assert plan.status == Plan.Status.ACTIVE
        assert plan.last_progress_at >= submitted_at

        decided_at = submitted_at + dt.timedelta(hours=5)
        with django_capture_on_commit_callbacks(execute=True):
            approved = b.approve(acme, registration, now=decided_at)
        approval = step_of(plan, StepKind.FIRST_APPROVAL)
        assert approval.completed_at == approved.decided_at == decided_at
        assert approval.evidence == registration.code
        plan.refresh_from_db()
        assert plan.status == Plan.Status.COMPLETED
        assert plan.completed_at == decided_at


def test_the_step_waits_for_the_commit_of_the_registration(
    acme, django_capture_on_commit_callbacks
):
    """Nothing completes inside the registration's transaction: the sync
    runs from the signal sent after commit."""
    with acme.scope():
        plan = b.start(acme, deal_steps(acme))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            b.submit(acme)
        assert step_of(plan, StepKind.FIRST_REGISTRATION).completed_at is None
        with django_capture_on_commit_callbacks(execute=True):
            for callback in callbacks:
                callback()
        assert step_of(plan, StepKind.FIRST_REGISTRATION).completed_at is not None


def test_a_rejected_registration_is_no_first_approval(acme, django_capture_on_commit_callbacks):
    with acme.scope():
        plan = b.start(acme, deal_steps(acme))
        with django_capture_on_commit_callbacks(execute=True):
            registration = b.submit(acme)
            dealreg.reject(registration, by=acme[Role.CHANNEL_MANAGER], reason="Not a fit")
        assert step_of(plan, StepKind.FIRST_REGISTRATION).completed_at is not None
        assert step_of(plan, StepKind.FIRST_APPROVAL).completed_at is None


def test_another_partners_registration_completes_nothing(acme, django_capture_on_commit_callbacks):
    with acme.scope():
        other_admin = factories.make_member(
            acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner
        )
        acme.members["other_admin"] = other_admin
        plan = b.start(acme, deal_steps(acme))
        with django_capture_on_commit_callbacks(execute=True):
            b.submit(acme, role="other_admin")
        assert step_of(plan, StepKind.FIRST_REGISTRATION).completed_at is None


def test_a_registration_made_before_the_plan_counts_at_its_start(
    acme, django_capture_on_commit_callbacks
):
    with acme.scope():
        with django_capture_on_commit_callbacks(execute=True):
            registration = b.submit(acme)
        plan = b.start(acme, deal_steps(acme))
        first = step_of(plan, StepKind.FIRST_REGISTRATION)
        assert first.completed_at == registration.submitted_at
        assert first.completed_at < plan.started_at


# --- Agreements, profile, training ---------------------------------------------------


def test_an_acceptance_completes_the_agreement_step_on_sync(acme):
    with acme.scope():
        agreement = b.agreement(acme)
        other = b.agreement(acme, "Data processing agreement")
        plan = b.start(
            acme,
            b.template(acme, [b.step(StepKind.AGREEMENT, agreement=agreement), b.step("custom")]),
        )
        accepted_at = timezone.now() - dt.timedelta(hours=1)
        b.accept(acme, other, at=accepted_at)  # another agreement: not this step's
        assert plans.sync_partner(acme.partner.pk) == []
        acceptance = b.accept(acme, agreement, at=accepted_at)
        (done,) = plans.sync_partner(acme.partner.pk)
        assert done.kind == StepKind.AGREEMENT
        assert done.completed_at == acceptance.accepted_at
        assert done.evidence == "version 1 accepted by Pat Admin"
        assert plans.sync_partner(acme.partner.pk) == []  # once
        plan.refresh_from_db()
        assert plan.status == Plan.Status.ACTIVE  # the custom step is still open


def test_a_complete_profile_completes_the_profile_step(acme):
    with acme.scope():
        plan = b.start(acme, b.template(acme, [b.step(StepKind.PROFILE), b.step("custom")]))
        assert plans.profile_gaps(acme.partner) == ["legal name", "phone", "address"]
        now = timezone.now()
        with pytest.raises(OnboardingError):  # a partner user may not
            plans.update_profile(
                acme.partner, by=acme[Role.PARTNER_USER], data={"legal_name": "Acme One LLC"}
            )
        plans.update_profile(
            acme.partner, by=acme[Role.PARTNER_ADMIN], data={"legal_name": "Acme One LLC"}, now=now
        )
        assert step_of(plan, StepKind.PROFILE).completed_at is None  # still gaps
        plans.update_profile(
            acme.partner,
            by=acme[Role.PARTNER_ADMIN],
            data={"phone": "+1 555 0100", "address": "1 Main St\nSpringfield", "notes": "x"},
            now=now,
        )
        acme.partner.refresh_from_db()
        assert acme.partner.notes == ""  # only the profile's fields change
        profile = step_of(plan, StepKind.PROFILE)
        assert (profile.completed_at, profile.source) == (now, Source.AUTOMATIC)
        assert profile.evidence == "company profile complete"


def test_a_course_reported_completes_the_training_step(acme):
    with acme.scope():
        plan = b.start(
            acme,
            b.template(
                acme,
                [b.step(StepKind.TRAINING, course_code="SALES-101"), b.step("custom")],
            ),
        )
        at = timezone.now() - dt.timedelta(days=1)
        assert plans.record_course_completed(acme.partner, "OTHER-1", at=at) == []
        (done,) = plans.record_course_completed(
            acme.partner, "sales-101", at=at, evidence="Pat passed SALES-101"
        )
        assert (done.completed_at, done.evidence) == (at, "Pat passed SALES-101")
        assert plans.record_course_completed(acme.partner, "SALES-101", at=at) == []
        assert step_of(plan, StepKind.TRAINING).source == Source.AUTOMATIC


def test_the_reconcile_sweep_catches_a_missed_signal(acme):
    with acme.scope():
        agreement = b.agreement(acme)
        plan = b.start(acme, b.template(acme, [b.step(StepKind.AGREEMENT, agreement=agreement)]))
        acceptance = b.accept(acme, agreement, at=timezone.now())  # no sync called
        result = plan_sweeps.sweep(acme.tenant)
        assert result.synced == 1
        plan.refresh_from_db()
        assert plan.status == Plan.Status.COMPLETED
        assert plan.completed_at == acceptance.accepted_at


# --- The plan completes --------------------------------------------------------------


def test_the_plan_completes_at_the_time_of_its_last_required_step(acme):
    with acme.scope():
        plan = b.start(
            acme,
            b.template(
                acme,
                [
                    b.step("custom", "Add your team"),
                    b.step(StepKind.TRAINING, course_code="C-1"),
                    b.step("custom", "Optional extra", required=False),
                ],
            ),
        )
        course_at = timezone.now() - dt.timedelta(days=2)
        plans.record_course_completed(acme.partner, "C-1", at=course_at)
        plan.refresh_from_db()
        assert plan.status == Plan.Status.ACTIVE
        ticked = plans.tick(plan.steps.get(title="Add your team"), by=acme[Role.PARTNER_ADMIN])
        plan.refresh_from_db()
        assert plan.status == Plan.Status.COMPLETED
        assert plan.completed_at == ticked.completed_at
        assert plan.steps.get(title="Optional extra").completed_at is None


# --- Starting a plan -----------------------------------------------------------------


def test_start_plan_prefers_the_tier_template_and_refuses_a_second(acme):
    with acme.scope():
        gold = acme.partner.tier
        b.template(acme, [b.step("custom", "Any tier step")], name="Any tier")
        b.template(
            acme, [b.step("custom", "Gold step", due_days=7)], name="Gold resellers", tier=gold
        )
        b.template(acme, [b.step("custom")], name="Distributors", partner_type="distributor")
        assert plans.template_for(acme.partner).name == "Gold resellers"
        plan = plans.start_plan(acme.partner, by=None)
        assert plan.template.name == "Gold resellers"
        (step,) = plan.steps.all()
        assert step.title == "Gold step"
        assert step.due_on == acme.tenant.local_today(plan.started_at) + dt.timedelta(days=7)
        assert plan.target_on == acme.tenant.local_today(plan.started_at) + dt.timedelta(days=90)
        with pytest.raises(OnboardingError, match="already has an onboarding plan"):
            plans.start_plan(acme.partner, by=None)
        assert Plan.objects.filter(partner=acme.partner).count() == 1


def test_start_plan_falls_back_to_the_any_tier_template_and_else_to_none(acme):
    with acme.scope():
        assert plans.start_plan(acme.other_partner, by=None) is None
        b.template(acme, [b.step("custom", owner=Owner.PARTNER)], name="Any tier")
        plan = plans.start_plan(acme.other_partner, by=None)
        assert plan is not None and plan.template.tier is None
