"""Training's demo data on a fresh tenant (after the partner directory and
deal registration), on a fixed day: the catalogue, records across the
partners (expired, expiring within 60 days), Northwind's two certified
engineers, one self-report waiting with its PDF; fast, and safe to run
again (also from onboarding's demo step)."""

import time
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from onboarding import demo, demo_training, training, training_sweeps
from onboarding.models import Certification, Course, TrainingRecord
from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Period
from prm.tenancy.demo import tenant_context
from prm.tenancy.roles import Role

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


@pytest.fixture
def seeded(acme):
    with time_machine.travel(DAY), acme.scope():
        ctx = tenant_context(acme.tenant, scale=0.2)
        steps = dict(registry.demo_steps())
        for label in demo.DEMO_AFTER:
            steps[label](ctx)
        started = time.monotonic()
        demo_training.seed(ctx)
        seconds = time.monotonic() - started
        yield acme, ctx, seconds


def test_the_catalogue_and_records(seeded):
    world, ctx, seconds = seeded
    assert seconds < 1.0
    today = world.tenant.local_today()
    assert today == date(2026, 12, 6)
    assert sorted(Course.objects.values_list("code", flat=True)) == ["PS-301", "SF-101", "TE-201"]
    engineer = Certification.objects.get(code=demo_training.ENGINEER)
    sales = Certification.objects.get(code=demo_training.SALES)
    assert engineer.name == "Certified Engineer" and engineer.validity_years == 2
    assert sorted(engineer.functions) == ["presales", "technical"]
    assert [c.code for c in engineer.courses.all()] == ["TE-201"]
    assert sales.functions == [] and [c.code for c in sales.courses.all()] == ["SF-101"]

    northwind = ctx.objects["partners.partners"][0]
    assert northwind.name.startswith("Northwind")
    assert training.certified_people([northwind.pk], engineer, today) == {northwind.pk: 2}
    assert ctx.people[Role.PARTNER_ADMIN].partner_id == northwind.pk

    confirmed = TrainingRecord.objects.filter(status=TrainingRecord.Status.CONFIRMED)
    assert confirmed.values("partner_id").distinct().count() >= 5
    assert confirmed.filter(expires_on__lte=today).count() >= 2  # expired in the past
    soon = training.expiring(today, today + timedelta(days=60)).count()
    assert soon >= 3
    # Dated when earned: recorded then, not today.
    assert all(r.recorded_at.date() == r.completed_on for r in confirmed)

    pending = TrainingRecord.objects.get(status=TrainingRecord.Status.PENDING)
    assert pending.membership == ctx.people[Role.PARTNER_USER]
    assert pending.source == TrainingRecord.Source.SELF and pending.certification == sales
    assert pending.evidence_type == "application/pdf"
    with pending.evidence.open("rb") as f:
        assert f.read(5) == b"%PDF-"

    # The year's training figures have values.
    year = Period(today - timedelta(days=364), today)
    for key in (
        "onboarding.certified_people",
        "onboarding.certifications_expiring",
        "onboarding.training_completion",
    ):
        assert registry.metrics()[key].compute(world.tenant, year, NO_FILTERS), key

    # The reminders have work today.
    with time_machine.travel(DAY):
        assert training_sweeps.sweep(world.tenant).reminders == soon


def test_safe_to_run_again(seeded):
    world, ctx, _ = seeded
    with time_machine.travel(DAY), world.scope():
        before = (TrainingRecord.objects.count(), Course.objects.count())
        demo_training.seed(ctx)
        demo.seed(ctx)  # onboarding's step runs it too
        assert (TrainingRecord.objects.count(), Course.objects.count()) == before
