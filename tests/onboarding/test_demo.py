"""Onboarding's demo step on a fresh tenant (after the partner directory and
deal registration, as seed_demo runs them), on a fixed day: applications
waiting for review (a duplicate flagged, one waiting on the applicant, one
overdue), decided ones, the agreement in two versions with the demo partner
admin not held back, partners part-way through their plans with one overdue,
and a year of completed plans behind the figures."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from onboarding import demo
from onboarding.agreements import blocking_versions, holds, owed
from onboarding.models import (
    Acceptance,
    Agreement,
    Application,
    ApplicationEvent,
    OnboardingSettings,
    Plan,
    PlanStep,
    PlanTemplate,
    Question,
    StepKind,
    VettingCheck,
)
from onboarding.plans import progress
from partners.demo import STILL_ONBOARDING
from partners.models import Partner
from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Period
from prm.tenancy.demo import tenant_context
from prm.tenancy.roles import Role

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


@pytest.fixture
def seeded(acme):
    """acme with the steps onboarding runs after, then onboarding's, on DAY,
    with a fifth of the year's history."""
    with time_machine.travel(DAY), acme.scope():
        ctx = tenant_context(acme.tenant, scale=0.2)
        steps = dict(registry.demo_steps())
        for label in demo.DEMO_AFTER:
            steps[label](ctx)
        started = time.monotonic()
        demo.seed(ctx)
        seconds = time.monotonic() - started
        yield acme, ctx, seconds


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Application,
            ApplicationEvent,
            Acceptance,
            Agreement,
            Plan,
            PlanStep,
            PlanTemplate,
            Question,
            VettingCheck,
        )
    }


def test_the_onboarding_demo(seeded):
    world, ctx, seconds = seeded
    # The step takes about a second; the bound catches work that grows with
    # the data (a query per row), not a slow or busy machine.
    assert seconds < 10, f"the onboarding demo step took {seconds:.1f} s"
    with time_machine.travel(DAY), world.scope():
        today = world.tenant.local_today()
        assert VettingCheck.objects.count() == 3
        assert Question.objects.count() == 2
        types = set(PlanTemplate.objects.values_list("partner_type", flat=True))
        assert types == set(Partner.Type.values)
        template = PlanTemplate.objects.get(partner_type="reseller")
        assert template.target_days == 90
        kinds = list(template.steps.order_by("position").values_list("kind", flat=True))
        assert set(kinds) == set(StepKind.values) - {StepKind.CUSTOM}
        assert template.steps.get(kind=StepKind.TRAINING).course_code == "SF-101"

        # Applications waiting for review: a duplicate named, one waiting on
        # the applicant, one past its deadline; and decided ones.
        waiting = Application.objects.filter(status__in=Application.OPEN)
        assert 4 <= waiting.count() <= 6
        twin = waiting.get(duplicate_partner__isnull=False)
        assert twin.domain == twin.duplicate_partner.domain
        asked = waiting.get(status=Application.Status.MORE_INFO)
        assert asked.info_request and asked.info_token_hash
        overdue = waiting.filter(status=Application.Status.SUBMITTED, due_at__lt=DAY)
        assert overdue.count() == 1 and overdue.get().escalated_at is not None
        assert all(a.confirmed_at and a.due_at for a in waiting)
        rejected = Application.objects.filter(status=Application.Status.REJECTED)
        assert rejected.count() == 2 and all(a.decision_reason for a in rejected)
        approved = Application.objects.filter(status=Application.Status.APPROVED)
        assert approved.exists()
        assert all(a.partner_id and a.decided_at <= a.partner.created_at for a in approved)

        # The agreement in two versions, the second with what changed.
        program = Agreement.objects.get(title=demo.PROGRAM)
        v1, v2 = program.versions.order_by("number")
        assert v2.change_summary and v2.effective_on == today - timedelta(days=20)
        assert v1.effective_on < v2.effective_on
        assert Acceptance.objects.filter(version=v1).count() > 20
        assert Acceptance.objects.filter(version=v2).count() >= 3
        assert Agreement.objects.get(title=demo.MSP_ADDENDUM).partner_types == ["msp"]

        # The demo logins are not held back; the partner admin's partner
        # accepted the second version, so owes nothing.
        admin = ctx.people[Role.PARTNER_ADMIN]
        assert holds(admin) is None and holds(ctx.people[Role.PARTNER_USER]) is None
        assert owed(admin.partner, day=today) == []
        # Most partners accepted the first version only: within the grace period.
        others = [p for p in ctx.objects["partners.partners"] if p.status == "active"]
        assert any(o.version == v2 and not o.blocking for p in others for o in owed(p, day=today))
        # Pinecrest (an MSP still onboarding) has not accepted the addendum yet.
        partners = ctx.objects["partners.partners"]
        pinecrest = partners[34]
        assert blocking_versions(today, pinecrest.pk, pinecrest.partner_type).exists()
        assert not blocking_versions(today, admin.partner_id, admin.partner.partner_type).exists()

        # The partners still onboarding are part-way through; one is overdue.
        active = Plan.objects.filter(status=Plan.Status.ACTIVE).select_related("partner")
        assert {p.partner_id for p in active} == {partners[i].pk for i in STILL_ONBOARDING}
        states = [progress(p, today=today) for p in active]
        assert all(0 < s.percent < 100 for s in states)
        assert sum(1 for s in states if s.overdue) == 1
        # The year's plans: completed (most) or closed; dated in the past.
        completed = Plan.objects.filter(status=Plan.Status.COMPLETED)
        assert completed.count() >= 8
        assert all(p.completed_at < DAY - timedelta(days=1) for p in completed)
        w9 = PlanStep.objects.filter(kind=StepKind.DOCUMENT, completed_at__isnull=False)
        assert w9.exists() and all(s.document and s.document_sha256 for s in w9)

        # The year's figures have values.
        year = Period(today - timedelta(days=364), today)
        for key, metric in registry.metrics().items():
            if key.startswith("onboarding."):
                assert metric.compute(world.tenant, year, NO_FILTERS), key
        # Acme counts a partner activated by its first approved registration.
        assert OnboardingSettings.for_tenant(world.tenant).activation == "approved"

        # Safe to run again.
        before = counts()
        demo.seed(ctx)
        assert counts() == before
