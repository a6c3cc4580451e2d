"""Certification expiry reminders with time moved: 60, 30 and 7 days before
a certification expires, to the person and their partner's admins; each
sent once, none on a rerun; a record first seen inside a later step gets
only that one; nothing at expiry; the other tenant untouched; the hourly
dispatch."""

import datetime as dt

import pytest
import time_machine

from onboarding import tasks, training_sweeps
from onboarding.models import TrainingRecord
from prm.tenancy.models import AuditEntry, Notification
from prm.tenancy.roles import Role

from . import builders_training as b

pytestmark = pytest.mark.django_db
EXPIRING = training_sweeps.CERTIFICATION_EXPIRING


def noon(world, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=world.tenant.tzinfo)


def sweep_on(world, day: dt.date) -> int:
    with time_machine.travel(noon(world, day), tick=False), world.scope():
        return training_sweeps.sweep(world.tenant).reminders


def expiring_in(world, days: int, *, person=None, code="ce") -> TrainingRecord:
    """A confirmed certification earned a year ago, expiring ``days`` from today."""
    with world.scope():
        cert = b.certification(world, code=code, name=f"Cert {code}")
        today = world.tenant.local_today()
        row = b.earned(world, cert, person=person, on=today - dt.timedelta(days=365))
        TrainingRecord.objects.filter(pk=row.pk).update(expires_on=today + dt.timedelta(days=days))
        row.refresh_from_db()
        return row


def notes(world, role=None):
    qs = Notification.objects.filter(kind=EXPIRING, tenant=world.tenant)
    if role is not None:
        qs = qs.filter(user=world[role].user)
    return list(qs.order_by("created_at", "pk"))


def test_reminded_60_30_and_7_days_before_each_once_to_the_person_and_admins(acme, globex):
    row = expiring_in(acme, 90)
    other = expiring_in(globex, 90)
    expires = row.expires_on
    assert sweep_on(acme, expires - dt.timedelta(days=61)) == 0
    assert sweep_on(acme, expires - dt.timedelta(days=60)) == 1
    assert sweep_on(acme, expires - dt.timedelta(days=60)) == 0  # rerun: nothing twice
    with acme.scope():
        to_person = notes(acme, Role.PARTNER_USER)
        to_admin = notes(acme, Role.PARTNER_ADMIN)
        assert len(to_person) == 1 and len(to_admin) == 1
        assert to_person[0].title.startswith("Your Cert ce certification expires on")
        assert "(in 60 days)" in to_person[0].title
        assert to_admin[0].title.startswith(f"{row.membership.user}'s Cert ce certification")
        # Nobody else: not staff, not the other partner.
        assert {n.user for n in notes(acme)} == {
            acme[Role.PARTNER_USER].user,
            acme[Role.PARTNER_ADMIN].user,
        }
    assert sweep_on(acme, expires - dt.timedelta(days=45)) == 0
    assert sweep_on(acme, expires - dt.timedelta(days=30)) == 1
    assert sweep_on(acme, expires - dt.timedelta(days=8)) == 0
    assert sweep_on(acme, expires - dt.timedelta(days=7)) == 1
    assert sweep_on(acme, expires - dt.timedelta(days=7)) == 0
    assert sweep_on(acme, expires - dt.timedelta(days=1)) == 0
    assert sweep_on(acme, expires) == 0  # no mail at expiry
    with acme.scope():
        assert len(notes(acme, Role.PARTNER_USER)) == 3
        assert len(notes(acme, Role.PARTNER_ADMIN)) == 3
        steps = AuditEntry.objects.filter(action="onboarding.certification_expiry_reminder")
        assert sorted(e.data["days"] for e in steps) == [7, 30, 60]
    with globex.scope():
        assert notes(globex) == []  # the other tenant untouched
        assert not AuditEntry.objects.filter(
            object_id=str(other.pk), action="onboarding.certification_expiry_reminder"
        ).exists()


def test_a_record_found_inside_a_later_step_gets_only_that_one(acme):
    row = expiring_in(acme, 20)
    assert sweep_on(acme, row.expires_on - dt.timedelta(days=20)) == 1
    assert sweep_on(acme, row.expires_on - dt.timedelta(days=19)) == 0
    assert sweep_on(acme, row.expires_on - dt.timedelta(days=7)) == 1
    with acme.scope():
        steps = AuditEntry.objects.filter(action="onboarding.certification_expiry_reminder")
        assert sorted(e.data["days"] for e in steps) == [7, 30]
        assert len(notes(acme, Role.PARTNER_USER)) == 2


def test_a_partner_admin_holding_it_hears_once_and_others_not_at_all(acme):
    row = expiring_in(acme, 7, person=acme[Role.PARTNER_ADMIN])
    with acme.scope():
        pending = expiring_in(acme, 7, code="pending")
        TrainingRecord.objects.filter(pk=pending.pk).update(status=TrainingRecord.Status.PENDING)
        gone = expiring_in(acme, 7, code="gone")
        gone.membership.is_active = False  # the partner user left: no reminder
        gone.membership.save()
        course_row = b.earned(acme, b.course(acme))  # a course never expires
        assert course_row.expires_on is None
    assert sweep_on(acme, row.expires_on - dt.timedelta(days=7)) == 1
    with acme.scope():
        assert [n.user for n in notes(acme)] == [acme[Role.PARTNER_ADMIN].user]


def test_the_dispatch_sweeps_tenants_with_certifications_expiring(acme, globex):
    row = expiring_in(acme, 30)
    with globex.scope():
        b.earned(globex, b.certification(globex, years=0))  # never expires
    with time_machine.travel(noon(acme, row.expires_on - dt.timedelta(days=30)), tick=False):
        assert tasks.dispatch_training_sweeps() == 1
    with acme.scope():
        assert len(notes(acme)) == 2
