"""Application deadlines with time moved: the reviewer reminded once before
the deadline, ops told once when it passes, nothing for applications
waiting for the applicant or decided, unconfirmed applications expired
after their confirmation window, and the per-minute dispatch that sweeps
only tenants with something due."""

import datetime as dt

import pytest
import time_machine

from onboarding import tasks, vetting
from onboarding.application_deadlines import sweep_applications
from onboarding.models import Application, ApplicationEvent
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role

from . import builders_vetting as b

pytestmark = pytest.mark.django_db
Status = Application.Status
Kind = ApplicationEvent.Kind
MONDAY = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def told(kind):
    return sorted(n.user.email for n in Notification.objects.filter(kind=kind))


def events(app, kind):
    return list(ApplicationEvent.objects.filter(application=app, kind=kind))


def sweep_at(world, moment):
    with time_machine.travel(moment, tick=False), world.scope():
        return sweep_applications(world.tenant)


def test_ops_are_reminded_once_then_told_once_when_it_is_overdue(acme):
    with acme.scope():
        app = b.queued(acme, now=MONDAY)
    ops = acme[Role.OPS_ADMIN].user.email
    remind_at, due = app.next_check_at, app.due_at
    assert sweep_at(acme, remind_at - MINUTE).checked == 0

    result = sweep_at(acme, remind_at)
    assert (result.reminders, result.escalations) == (1, 0)
    with acme.scope():
        assert told("onboarding.application_reminder") == [ops]
        app.refresh_from_db()
        assert app.reminded_at == remind_at and app.next_check_at == due
        (event,) = events(app, Kind.REMINDED)
        assert "decision due" in event.message

    # Again before the deadline: nothing due, nothing sent.
    assert sweep_at(acme, due - MINUTE).checked == 0

    result = sweep_at(acme, due)
    assert (result.reminders, result.escalations) == (0, 1)
    with acme.scope():
        assert told("onboarding.application_escalated") == [ops]
        app.refresh_from_db()
        assert app.escalated_at == due and app.next_check_at is None
        (event,) = events(app, Kind.ESCALATED)
        assert "was due" in event.message and "Reviewer: ops" in event.message

    later = sweep_at(acme, due + dt.timedelta(days=5))
    assert later.checked == 0
    with acme.scope():
        assert len(told("onboarding.application_reminder")) == 1
        assert len(told("onboarding.application_escalated")) == 1


def test_a_routed_application_reminds_its_reviewer_and_escalates_to_ops_too(acme):
    cm = acme[Role.CHANNEL_MANAGER].user
    with acme.scope():
        b.rule(acme, cm)
        app = b.queued(acme, now=MONDAY)
    sweep_at(acme, app.next_check_at)
    sweep_at(acme, app.due_at)
    with acme.scope():
        assert told("onboarding.application_reminder") == [cm.email]
        assert told("onboarding.application_escalated") == sorted(
            [cm.email, acme[Role.OPS_ADMIN].user.email]
        )
        # The reminder asks for the decision: deciding closes it.
        vetting.reject(app, by=acme[Role.CHANNEL_MANAGER], reason="No.")
        assert not Notification.objects.filter(
            kind="onboarding.application_reminder", done_at__isnull=True
        ).exists()


def test_a_late_sweep_escalates_without_a_stale_reminder(acme):
    with acme.scope():
        app = b.queued(acme, now=MONDAY)
    result = sweep_at(acme, app.due_at + dt.timedelta(hours=3))
    assert (result.reminders, result.escalations) == (0, 1)
    with acme.scope():
        assert told("onboarding.application_reminder") == []


def test_waiting_for_the_applicant_or_decided_nothing_is_sent(acme):
    with acme.scope():
        ops = acme[Role.OPS_ADMIN]
        asked = b.queued(acme, now=MONDAY)
        vetting.request_info(asked, by=ops, question="Why?", now=MONDAY)
        decided = b.queued(acme, now=MONDAY)
        vetting.reject(decided, by=ops, reason="No.", now=MONDAY)
        # A stale check left on a decided row is cleared silently.
        Application.objects.filter(pk=decided.pk).update(next_check_at=MONDAY)
    result = sweep_at(acme, MONDAY + dt.timedelta(days=30))
    assert (result.checked, result.reminders, result.escalations) == (1, 0, 0)
    with acme.scope():
        assert Application.objects.get(pk=decided.pk).next_check_at is None
        assert Notification.objects.filter(kind__startswith="onboarding.application_r").count() == 0


def test_the_applicants_answer_moves_the_reminder_with_the_deadline(acme):
    with acme.scope():
        app = b.queued(acme, now=MONDAY)  # reminder Friday 6 March, due Monday 9 March
        tuesday, thursday = MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=3)
        vetting.request_info(app, by=acme[Role.OPS_ADMIN], question="Why?", now=tuesday)
    assert sweep_at(acme, dt.datetime(2026, 3, 6, 10, 0, tzinfo=dt.UTC)).checked == 0  # paused
    with acme.scope():
        Application.objects.filter(pk=app.pk).update(status=Status.SUBMITTED)
        app.refresh_from_db()
        vetting.resume(app, thursday)  # two business days later
        app.refresh_from_db()
        assert app.due_at == dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)
        assert app.next_check_at == dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
    assert sweep_at(acme, app.next_check_at - MINUTE).checked == 0
    assert sweep_at(acme, app.next_check_at).reminders == 1
    assert sweep_at(acme, app.due_at).escalations == 1


def test_unconfirmed_applications_expire_after_their_window(acme):
    with acme.scope():
        old = b.application(acme, status=Status.UNCONFIRMED, confirm_by=MONDAY)
        fresh = b.application(
            acme, status=Status.UNCONFIRMED, confirm_by=MONDAY + dt.timedelta(hours=1)
        )
        confirmed = b.queued(acme, now=MONDAY - dt.timedelta(days=1), confirm_by=MONDAY)
    result = sweep_at(acme, MONDAY)
    assert result.expired == 1
    with acme.scope():
        statuses = dict(Application.objects.values_list("pk", "status"))
        assert statuses[old.pk] == Status.EXPIRED
        assert statuses[fresh.pk] == Status.UNCONFIRMED
        assert statuses[confirmed.pk] == Status.SUBMITTED
        (event,) = events(old, Kind.EXPIRED)
        assert event.at == MONDAY
    assert sweep_at(acme, MONDAY + dt.timedelta(hours=2)).expired == 1  # fresh, once
    assert sweep_at(acme, MONDAY + dt.timedelta(hours=3)).expired == 0


def test_the_dispatch_sweeps_only_tenants_with_something_due(acme, globex):
    with acme.scope():
        app = b.queued(acme, now=MONDAY)
    with globex.scope():
        b.queued(globex, now=MONDAY + dt.timedelta(days=14))
    with time_machine.travel(app.next_check_at, tick=False):
        assert tasks.dispatch_application_sweeps() == 1  # acme only (eager in tests)
    with acme.scope():
        assert told("onboarding.application_reminder") == [acme[Role.OPS_ADMIN].user.email]
    with globex.scope():
        assert told("onboarding.application_reminder") == []
    with time_machine.travel(MONDAY - MINUTE, tick=False):
        assert tasks.dispatch_application_sweeps() == 0


def test_a_check_that_fails_is_retried_later_and_the_others_go_on(acme, monkeypatch):
    from onboarding import application_deadlines
    from prm.tenancy.batches import RETRY_DELAY

    with acme.scope():
        broken = b.queued(acme, now=MONDAY)
        fine = b.queued(acme, now=MONDAY)
    real = application_deadlines._check

    def check(row, *args):
        if row.pk == broken.pk:
            raise RuntimeError("mail server on fire")
        real(row, *args)

    monkeypatch.setattr(application_deadlines, "_check", check)
    moment = broken.next_check_at
    result = sweep_at(acme, moment)
    assert (result.checked, result.failed, result.reminders) == (2, 1, 1)
    with acme.scope():
        broken.refresh_from_db()
        fine.refresh_from_db()
        assert broken.next_check_at == moment + RETRY_DELAY and broken.reminded_at is None
        assert not events(broken, Kind.REMINDED)
        assert fine.reminded_at == moment and len(events(fine, Kind.REMINDED)) == 1
