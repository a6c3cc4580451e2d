"""Agreement sweeps with time moved: reminders of a new version to the
partner admins of partners that accepted an earlier one (when it takes
effect, 7 days and 1 day before their days to accept run out), expiry
warnings 60, 30 and 7 days ahead to ops and the partners that accepted
the version; each sent once, none on a rerun; and the hourly dispatch."""

import datetime as dt

import pytest
import time_machine

from onboarding import agreement_sweeps, tasks
from prm.tenancy.models import AuditEntry, Notification
from prm.tenancy.roles import Role
from tests import factories

from . import builders_agreements as b

pytestmark = pytest.mark.django_db
NEW_VERSION = "onboarding.agreement_new_version"
EXPIRING = "onboarding.agreement_expiring"


def noon(world, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=world.tenant.tzinfo)


def sweep_on(world, day: dt.date) -> agreement_sweeps.SweepResult:
    with time_machine.travel(noon(world, day), tick=False), world.scope():
        return agreement_sweeps.sweep(world.tenant)


def notes(kind, world=None, role=None):
    qs = Notification.objects.filter(kind=kind).order_by("created_at", "pk")
    if role is not None:
        qs = qs.filter(user=world[role].user)
    return list(qs)


def test_a_new_version_is_reminded_when_published_then_7_and_1_days_before(acme):
    with acme.scope():
        first = b.version(acme, days_ago=100)
        b.accept(acme, first)
        second = b.version(
            acme, first.agreement, days_ago=0, grace_days=14, change_summary="Clause 4 rewritten"
        )
        second_admin = factories.make_member(
            acme.tenant, Role.PARTNER_ADMIN, partner=acme.partner, email="admin2@acme.test"
        )
    start = second.effective_on
    assert sweep_on(acme, start).reminders == 1
    assert sweep_on(acme, start).reminders == 0  # rerun: nothing twice
    with acme.scope():
        sent = notes(NEW_VERSION)
        # Both partner admins of the partner that accepted v1; not the partner
        # user, nor the partner that never accepted (the gate holds it).
        assert {n.user for n in sent} == {acme[Role.PARTNER_ADMIN].user, second_admin.user}
        assert "by " in sent[0].title and "Clause 4 rewritten" in sent[0].body
        assert sent[0].url == f"/onboarding/agreements/{second.pk}/"
    assert sweep_on(acme, start + dt.timedelta(days=3)).reminders == 0
    assert sweep_on(acme, start + dt.timedelta(days=7)).reminders == 1  # 7 days left
    assert sweep_on(acme, start + dt.timedelta(days=8)).reminders == 0
    assert sweep_on(acme, start + dt.timedelta(days=13)).reminders == 1  # 1 day left
    assert sweep_on(acme, start + dt.timedelta(days=14)).reminders == 0  # the last day
    assert sweep_on(acme, start + dt.timedelta(days=15)).reminders == 0  # held now
    with acme.scope():
        assert len(notes(NEW_VERSION, acme, Role.PARTNER_ADMIN)) == 3
        steps = AuditEntry.objects.filter(action="onboarding.agreement_reminder")
        assert sorted(e.data["step"] for e in steps) == ["1", "7", "new"]


def test_a_partner_that_accepted_hears_no_more(acme):
    with acme.scope():
        first = b.version(acme, days_ago=100)
        b.accept(acme, first)
        second = b.version(acme, first.agreement, days_ago=0, grace_days=14)
    assert sweep_on(acme, second.effective_on).reminders == 1
    with acme.scope():
        b.accept(acme, second)
    assert sweep_on(acme, second.effective_on + dt.timedelta(days=7)).reminders == 0
    assert sweep_on(acme, second.effective_on + dt.timedelta(days=13)).reminders == 0


def test_a_short_grace_starts_at_its_step(acme):
    with acme.scope():
        first = b.version(acme, days_ago=100)
        b.accept(acme, first)
        second = b.version(acme, first.agreement, days_ago=0, grace_days=5)
    assert sweep_on(acme, second.effective_on).reminders == 1
    with acme.scope():
        (entry,) = AuditEntry.objects.filter(action="onboarding.agreement_reminder")
        assert entry.data["step"] == "7"
    assert sweep_on(acme, second.effective_on + dt.timedelta(days=1)).reminders == 0
    assert sweep_on(acme, second.effective_on + dt.timedelta(days=4)).reminders == 1


def test_expiry_is_warned_60_30_and_7_days_ahead_once_each(acme):
    with acme.scope():
        # An agreement without an expiry date is never warned about.
        b.accept(acme, b.version(acme, days_ago=10))
        fresh = b.version(
            acme,
            b.agreement(acme, "Data processing agreement"),
            days_ago=10,
            expires_on=b.today(acme) + dt.timedelta(days=75),
        )
        b.accept(acme, fresh)
    expires = fresh.expires_on
    day = expires - dt.timedelta(days=61)
    assert sweep_on(acme, day).expiry_warnings == 0
    assert sweep_on(acme, expires - dt.timedelta(days=60)).expiry_warnings == 1
    assert sweep_on(acme, expires - dt.timedelta(days=60)).expiry_warnings == 0
    assert sweep_on(acme, expires - dt.timedelta(days=45)).expiry_warnings == 0
    assert sweep_on(acme, expires - dt.timedelta(days=30)).expiry_warnings == 1
    assert sweep_on(acme, expires - dt.timedelta(days=8)).expiry_warnings == 0
    assert sweep_on(acme, expires - dt.timedelta(days=7)).expiry_warnings == 1
    assert sweep_on(acme, expires - dt.timedelta(days=1)).expiry_warnings == 0
    assert sweep_on(acme, expires).expiry_warnings == 0  # expired: asks nobody
    with acme.scope():
        to_ops = notes(EXPIRING, acme, Role.OPS_ADMIN)
        to_partner = notes(EXPIRING, acme, Role.PARTNER_ADMIN)
        assert len(to_ops) == 3 and len(to_partner) == 3
        assert "in 60 days" in to_ops[0].title and "in 7 days" in to_ops[2].title
        assert "No later version is scheduled" in to_ops[0].body
        assert to_partner[0].url == f"/onboarding/agreements/{fresh.pk}/"
        # Nobody else: the partner user, and partners that did not accept it.
        assert {n.user for n in notes(EXPIRING)} == {
            acme[Role.OPS_ADMIN].user,
            acme[Role.PARTNER_ADMIN].user,
        }


def test_a_version_found_late_gets_only_the_step_it_is_in(acme):
    with acme.scope():
        version = b.version(acme, days_ago=1, expires_on=b.today(acme) + dt.timedelta(days=20))
    assert sweep_on(acme, b.today(acme)).expiry_warnings == 1
    with acme.scope():
        (entry,) = AuditEntry.objects.filter(action="onboarding.agreement_expiry_warning")
        assert entry.data["days"] == 30
        # Nobody accepted it: ops alone are told.
        assert {n.user for n in notes(EXPIRING)} == {acme[Role.OPS_ADMIN].user}
    assert sweep_on(acme, version.expires_on - dt.timedelta(days=7)).expiry_warnings == 1


def test_the_dispatch_sweeps_tenants_with_active_agreements(acme, globex):
    with acme.scope():
        first = b.version(acme, days_ago=100)
        b.accept(acme, first)
        b.version(acme, first.agreement, days_ago=0, grace_days=14)
    with time_machine.travel(noon(acme, b.today(acme)), tick=False):
        assert tasks.dispatch_agreement_sweeps() == 1  # globex has no agreement
    with acme.scope():
        assert len(notes(NEW_VERSION)) == 1
