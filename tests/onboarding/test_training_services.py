"""Training records through their services: entered by staff, reported by
the person with a certificate and confirmed or rejected, expiry, and the
onboarding plan's training step completing from a confirmed record."""

import datetime as dt

import pytest

from onboarding import training
from onboarding.errors import OnboardingError
from onboarding.models import Owner, Plan, StepKind, TrainingRecord
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role

from . import builders_plans as plan_b
from . import builders_training as b

pytestmark = pytest.mark.django_db
Status = TrainingRecord.Status


def test_staff_record_a_certification_that_counts_until_it_expires(acme):
    with acme.scope():
        cert = b.certification(acme, years=2)
        on = dt.date(2025, 2, 28)
        row = b.earned(acme, cert, on=on)
        assert row.status == Status.CONFIRMED and row.source == TrainingRecord.Source.STAFF
        assert row.expires_on == dt.date(2027, 2, 28)
        assert row.counts_on(dt.date(2027, 2, 27)) and not row.counts_on(dt.date(2027, 2, 28))
        people = training.certified_people([acme.partner.pk], cert, dt.date(2027, 2, 27))
        assert people == {acme.partner.pk: 1}
        assert training.certified_people([acme.partner.pk], cert, dt.date(2027, 2, 28)) == {}
        assert AuditEntry.objects.filter(action="onboarding.training_recorded").count() == 1


def test_a_leap_day_certification_expires_on_the_28th(acme):
    with acme.scope():
        cert = b.certification(acme, years=1)
        assert cert.expiry_for(dt.date(2024, 2, 29)) == dt.date(2025, 2, 28)
        assert (
            b.certification(acme, code="x", name="X", years=0).expiry_for(dt.date(2024, 1, 1))
            is None
        )


def test_refusals_change_nothing(acme, globex):
    with acme.scope():
        cert = b.certification(acme)
        today = acme.tenant.local_today()
        with pytest.raises(OnboardingError, match="future"):
            b.earned(acme, cert, on=today + dt.timedelta(days=1))
        with pytest.raises(OnboardingError, match="staff"):
            b.earned(acme, cert, by_role=Role.PARTNER_ADMIN)
        with pytest.raises(OnboardingError, match="people of a partner"):
            b.earned(acme, cert, person=acme[Role.FINANCE])
        b.earned(acme, cert, on=today)
        with pytest.raises(OnboardingError, match="already has"):
            b.earned(acme, cert, on=today)
        cert.is_active = False
        cert.save()
        with pytest.raises(OnboardingError, match="no longer offered"):
            b.earned(acme, cert, on=today - dt.timedelta(days=3))
        assert TrainingRecord.objects.count() == 1


def test_a_reported_certificate_waits_for_staff_then_counts(acme):
    with acme.scope():
        cert = b.certification(acme)
        person = acme[Role.PARTNER_USER]
        on = acme.tenant.local_today() - dt.timedelta(days=10)
        row = training.report(
            person=person, achievement=cert, completed_on=on, by=person, certificate=plan_b.pdf()
        )
        assert row.status == Status.PENDING and row.evidence_name == "w9.pdf"
        assert training.certified_people([acme.partner.pk], cert, acme.tenant.local_today()) == {}
        with pytest.raises(OnboardingError, match="staff"):
            training.confirm(row, by=acme[Role.PARTNER_ADMIN])
        confirmed = training.confirm(row, by=acme[Role.CHANNEL_MANAGER])
        assert (
            confirmed.status == Status.CONFIRMED
            and confirmed.decided_by == acme[Role.CHANNEL_MANAGER].user
        )
        with pytest.raises(OnboardingError, match="already confirmed"):
            training.confirm(row, by=acme[Role.OPS_ADMIN])
        people = training.certified_people([acme.partner.pk], cert, acme.tenant.local_today())
        assert people == {acme.partner.pk: 1}


def test_who_may_report_and_what_file(acme):
    with acme.scope():
        cert = b.certification(acme)
        user, admin = acme[Role.PARTNER_USER], acme[Role.PARTNER_ADMIN]
        on = acme.tenant.local_today()
        # A partner user reports only their own; an admin a colleague's too.
        with pytest.raises(OnboardingError, match="your own"):
            training.report(
                person=admin, achievement=cert, completed_on=on, by=user, certificate=plan_b.pdf()
            )
        with pytest.raises(OnboardingError, match="PDF, PNG or JPEG"):
            training.report(
                person=user,
                achievement=cert,
                completed_on=on,
                by=admin,
                certificate=plan_b.pdf("c.pdf", plan_b.HTML),
            )
        row = training.report(
            person=user, achievement=cert, completed_on=on, by=admin, certificate=plan_b.pdf()
        )
        rejected = training.reject(row, by=acme[Role.OPS_ADMIN], reason="Certificate unreadable.")
        assert rejected.status == Status.REJECTED and rejected.note == "Certificate unreadable."
        # Rejected: the same achievement may be reported again.
        again = training.report(
            person=user, achievement=cert, completed_on=on, by=user, certificate=plan_b.pdf()
        )
        assert again.status == Status.PENDING


def test_a_confirmed_course_completes_the_plans_training_step(acme):
    with acme.scope():
        course = b.course(acme, code="sf-101")
        template = plan_b.template(
            acme,
            [
                plan_b.step(
                    StepKind.TRAINING,
                    "Sales Foundations",
                    owner=Owner.PARTNER,
                    course_code="SF-101",
                )
            ],
        )
        plan = plan_b.start(acme, template)
        row = b.earned(acme, course)
        plan.refresh_from_db()
        step = plan.steps.get()
        assert step.completed_at == row.decided_at and step.source == "automatic"
        assert plan.status == Plan.Status.COMPLETED
