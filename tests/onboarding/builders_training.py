"""Training catalogue and records for the training tests, inside the
world's scope."""

import datetime as dt

from onboarding import training
from onboarding.models import Certification, Course, TrainingRecord
from prm.tenancy.roles import Role


def course(world, code="sf-101", title="Sales Foundations", **extra) -> Course:
    return Course.objects.create(tenant=world.tenant, code=code, title=title, **extra)


def certification(world, code="ce", name="Certified Engineer", *, years=2, courses=(), **extra):
    found = Certification.objects.create(
        tenant=world.tenant, code=code, name=name, validity_years=years, **extra
    )
    found.courses.set(courses)
    return found


def earned(world, achievement, *, person=None, on=None, by_role=Role.OPS_ADMIN) -> TrainingRecord:
    """A record entered by staff for ``person`` (the partner user)."""
    return training.record(
        person=person or world[Role.PARTNER_USER],
        achievement=achievement,
        completed_on=on or world.tenant.local_today() - dt.timedelta(days=1),
        by=world[by_role],
    )
