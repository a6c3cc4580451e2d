"""The vetting services: queuing (reviewer, deadline on the business
calendar), the checklist, notes, questions to the applicant (the clock
pauses and resumes), rejection, and every refusal; who may decide."""

import datetime as dt

import pytest
from django.core import mail

from onboarding import vetting
from onboarding.errors import OnboardingError
from onboarding.models import (
    Application,
    ApplicationCheck,
    ApplicationEvent,
    OnboardingSettings,
)
from onboarding.models.applications import hash_token
from prm.tenancy.models import AuditEntry, Notification, OutboxMessage
from prm.tenancy.roles import Role
from tests import factories

from . import builders_vetting as b

pytestmark = pytest.mark.django_db
Status = Application.Status
Kind = ApplicationEvent.Kind
UTC = dt.UTC
# A Monday morning with no public holiday near it (the calendar is the
# tenant's: UTC, Monday to Friday, 09:00-17:00).
MONDAY = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def kinds(app):
    return list(ApplicationEvent.objects.filter(application=app).values_list("kind", flat=True))


def refused(call, *args, field=None, **kwargs) -> OnboardingError:
    with pytest.raises(OnboardingError) as caught:
        call(*args, **kwargs)
    assert caught.value.field == field, caught.value
    return caught.value


# --- Queuing ------------------------------------------------------------------------------


def test_queue_sets_the_deadline_on_business_days_and_tells_ops(acme):
    with acme.scope():
        app = b.application(acme)
        queued = vetting.queue(app, MONDAY)
        assert queued is app  # the caller's object follows the row
        app.refresh_from_db()
        # Five business days of 8 hours: the next Monday at 10:00; the
        # reminder one business day before.
        assert app.due_at == dt.datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
        assert app.next_check_at == dt.datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
        assert app.reviewer is None  # no rule: ops review it
        assert kinds(app) == [Kind.ASSIGNED]
        (note,) = Notification.objects.filter(kind="onboarding.application_assigned")
        assert note.user == acme[Role.OPS_ADMIN].user and note.task == vetting.DECIDE
        assert AuditEntry.objects.filter(action="onboarding.application_queued").count() == 1


def test_queue_routes_to_the_matching_rules_channel_manager(acme):
    with acme.scope():
        cm = acme[Role.CHANNEL_MANAGER].user
        b.rule(acme, cm, countries=["DE"])
        german = vetting.queue(b.application(acme, country="DE"), MONDAY)
        american = vetting.queue(b.application(acme, country="US"), MONDAY)
        assert german.reviewer == cm and american.reviewer is None
        assert Notification.objects.get(
            kind="onboarding.application_assigned", user=cm
        ).title.startswith(f"Partner application {german.code}")


def test_queue_twice_or_unconfirmed_changes_nothing(acme):
    with acme.scope():
        app = b.queued(acme, now=MONDAY)
        vetting.queue(app, MONDAY + dt.timedelta(days=3))
        app.refresh_from_db()
        assert app.due_at == dt.datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
        assert kinds(app) == [Kind.ASSIGNED]
        unconfirmed = vetting.queue(b.application(acme, status=Status.UNCONFIRMED), MONDAY)
        assert unconfirmed.due_at is None and kinds(unconfirmed) == []


def test_with_no_reminder_the_first_check_is_the_deadline(acme):
    with acme.scope():
        OnboardingSettings.objects.filter(tenant=acme.tenant).delete()
        OnboardingSettings.objects.create(
            tenant=acme.tenant, decision_business_days=2, reminder_business_days=0
        )
        app = b.queued(acme, now=MONDAY)
        assert app.due_at == dt.datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
        assert app.next_check_at == app.due_at


# --- Who may decide -----------------------------------------------------------------------


def test_ops_decide_any_application_a_channel_manager_only_theirs(acme):
    with acme.scope():
        cm = acme[Role.CHANNEL_MANAGER]
        ops = acme[Role.OPS_ADMIN]
        theirs = b.queued(acme)
        theirs.reviewer = cm.user
        other = b.queued(acme)
        assert vetting.may_decide(ops, theirs) and vetting.may_decide(ops, other)
        assert vetting.may_decide(cm, theirs) and not vetting.may_decide(cm, other)
        for role in (Role.FINANCE, Role.EXECUTIVE, Role.PARTNER_ADMIN, Role.PARTNER_USER):
            assert not vetting.may_decide(acme[role], theirs)
        # Approving is deciding: ops, and the channel manager it is assigned to.
        assert vetting.may_approve(ops, theirs) and vetting.may_approve(cm, theirs)
        assert not vetting.may_approve(cm, other)
        error = refused(vetting.reject, other, by=cm, reason="No.")
        assert "assigned" in str(error)
        refused(vetting.request_info, other, by=acme[Role.FINANCE], question="Why?")


# --- Checklist and notes ----------------------------------------------------------------


def test_tick_and_untick_a_check_with_a_note(acme):
    with acme.scope():
        ops = acme[Role.OPS_ADMIN]
        app = b.queued(acme)
        refs = b.check(acme, "References checked")
        row = vetting.tick_check(app, refs, by=ops, note="Two customers called")
        assert (row.done_by, row.note) == (ops.user, "Two customers called")
        assert vetting.missing_checks(app) == []
        error = refused(vetting.tick_check, app, refs, by=ops, field="check")
        assert "ticked already by" in str(error)
        vetting.untick_check(app, refs, by=ops, note="Wrong company")
        assert not ApplicationCheck.objects.filter(application=app).exists()
        assert vetting.missing_checks(app) == [refs]
        refused(vetting.untick_check, app, refs, by=ops, field="check")
        assert kinds(app)[-2:] == [Kind.CHECKED, Kind.UNCHECKED]
        assert ApplicationEvent.objects.get(kind=Kind.UNCHECKED).message == (
            "References checked: Wrong company"
        )
        actions = set(AuditEntry.objects.values_list("action", flat=True))
        assert {
            "onboarding.application_check_ticked",
            "onboarding.application_check_unticked",
        } <= actions


def test_checks_refused_off_the_list_or_once_decided(acme, globex):
    with globex.scope():
        foreign = b.check(globex, "Their check")
    with acme.scope():
        ops = acme[Role.OPS_ADMIN]
        app = b.queued(acme)
        retired = b.check(acme, "Retired", is_active=False)
        refused(vetting.tick_check, app, retired, by=ops, field="check")
        refused(vetting.tick_check, app, foreign, by=ops, field="check")
        refused(
            vetting.tick_check, app, b.check(acme, "Fine"), by=ops, note="x" * 301, field="note"
        )
        vetting.reject(app, by=ops, reason="Not a fit.")
        error = refused(vetting.tick_check, app, b.check(acme, "Late"), by=ops)
        assert "rejected" in str(error)
        assert not ApplicationCheck.objects.exists()


def test_notes_by_any_reviewer_and_never_empty(acme):
    with acme.scope():
        app = b.queued(acme)
        event = vetting.add_note(app, by=acme[Role.CHANNEL_MANAGER], text="  I know them.  ")
        assert (event.kind, event.message) == (Kind.NOTE, "I know them.")
        refused(vetting.add_note, app, by=acme[Role.OPS_ADMIN], text="   ", field="text")
        refused(vetting.add_note, app, by=acme[Role.FINANCE], text="A note")
        assert ApplicationEvent.objects.filter(kind=Kind.NOTE).count() == 1


# --- Questions to the applicant -----------------------------------------------------------


def test_request_info_stores_a_hash_pauses_the_clock_and_mails_a_link(acme):
    with acme.scope():
        app = b.queued(acme, now=MONDAY)
        later = MONDAY + dt.timedelta(hours=2)
        vetting.request_info(
            app, by=acme[Role.OPS_ADMIN], question="Which vendors do you sell?", now=later
        )
        app.refresh_from_db()
        assert app.status == Status.MORE_INFO and app.info_requested_at == later
        assert app.info_request == "Which vendors do you sell?"
        assert app.next_check_at is None  # paused
        (message,) = OutboxMessage.objects.filter(task="onboarding.tasks.send_applicant_mail")
        assert message.kwargs["kind"] == "info_requested"
        token = message.kwargs["token"]
        assert token and hash_token(token) == app.info_token_hash != token
        assert kinds(app)[-1] == Kind.INFO_REQUESTED
        # The reviewer's "decide" task waits for the answer.
        assert not Notification.objects.filter(task=vetting.DECIDE, done_at__isnull=True).exists()


def test_request_info_refusals(acme):
    with acme.scope():
        ops = acme[Role.OPS_ADMIN]
        app = b.queued(acme)
        refused(vetting.request_info, app, by=ops, question=" ", field="question")
        refused(vetting.request_info, app, by=ops, question="x" * 2001, field="question")
        vetting.request_info(app, by=ops, question="First?")
        error = refused(vetting.request_info, app, by=ops, question="Second?")
        assert "more information requested" in str(error)
        assert ApplicationEvent.objects.filter(kind=Kind.INFO_REQUESTED).count() == 1


def answered(app, now):
    """What the answer page does before its ON_ANSWERED hook runs."""
    Application.objects.filter(pk=app.pk).update(status=Status.SUBMITTED, info_token_hash="")
    app.refresh_from_db()
    return vetting.resume(app, now)


def test_the_answer_moves_the_deadline_by_the_business_time_it_waited(acme):
    with acme.scope():
        app = b.queued(acme, now=MONDAY)  # due Monday 9 March 10:00
        vetting.request_info(app, by=acme[Role.OPS_ADMIN], question="Why?", now=MONDAY)
        # Answered on Wednesday at 10:00: two business days later.
        wednesday = MONDAY + dt.timedelta(days=2)
        answered(app, wednesday)
        app.refresh_from_db()
        assert app.due_at == dt.datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
        assert app.next_check_at == dt.datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
        assert kinds(app)[-1] == Kind.ASSIGNED
        assert Notification.objects.filter(kind="onboarding.application_answered").count() == 1
        # The hook run twice moves nothing twice.
        answered(app, wednesday + dt.timedelta(days=1))
        app.refresh_from_db()
        assert app.due_at == dt.datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
        assert kinds(app).count(Kind.ASSIGNED) == 2


def test_an_application_overdue_before_the_question_stays_escalated(acme):
    with acme.scope():
        app = b.queued(acme, now=MONDAY)
        Application.objects.filter(pk=app.pk).update(
            escalated_at=app.due_at, reminded_at=MONDAY, next_check_at=None
        )
        asked = app.due_at + dt.timedelta(days=1)
        vetting.request_info(app, by=acme[Role.OPS_ADMIN], question="Why?", now=asked)
        answered(app, asked + dt.timedelta(hours=1))
        app.refresh_from_db()
        assert app.due_at < asked and app.escalated_at is not None
        assert app.next_check_at is None  # not escalated a second time


# --- Rejection ----------------------------------------------------------------------------


def test_reject_mails_the_reason_after_commit(acme, django_capture_on_commit_callbacks):
    with acme.scope():
        app = b.queued(acme)
        with django_capture_on_commit_callbacks(execute=True):
            vetting.reject(app, by=acme[Role.OPS_ADMIN], reason="We have enough resellers <here>.")
        app.refresh_from_db()
        assert app.status == Status.REJECTED and app.decided_by == acme[Role.OPS_ADMIN].user
        assert app.decision_reason == "We have enough resellers <here>." and app.decided_at
        assert app.next_check_at is None
    (sent,) = mail.outbox
    assert sent.to == [app.contact_email] and "About your application" in sent.subject
    assert "We have enough resellers <here>." in sent.body  # plain text, not HTML-escaped


def test_reject_refusals_and_a_double_submit(acme):
    with acme.scope():
        ops = acme[Role.OPS_ADMIN]
        app = b.queued(acme)
        refused(vetting.reject, app, by=ops, reason="  ", field="reason")
        vetting.reject(app, by=ops, reason="No.")
        error = refused(vetting.reject, app, by=ops, reason="No again.")
        assert "is rejected" in str(error)
        assert ApplicationEvent.objects.filter(kind=Kind.REJECTED).count() == 1
        assert AuditEntry.objects.filter(action="onboarding.application_rejected").count() == 1


def test_an_application_waiting_for_the_applicant_can_be_rejected(acme):
    with acme.scope():
        ops = acme[Role.OPS_ADMIN]
        app = b.queued(acme)
        vetting.request_info(app, by=ops, question="Why?")
        vetting.reject(app, by=ops, reason="No answer is needed any more.")
        app.refresh_from_db()
        assert app.status == Status.REJECTED and app.info_token_hash == ""


def test_a_channel_manager_decides_what_is_routed_to_them(acme):
    with acme.scope():
        cm = acme[Role.CHANNEL_MANAGER]
        b.rule(acme, cm.user)
        app = b.queued(acme)
        assert app.reviewer == cm.user
        refs = b.check(acme, "References")
        vetting.tick_check(app, refs, by=cm)
        vetting.request_info(app, by=cm, question="Which region?")
        vetting.reject(app, by=cm, reason="Outside our regions.")
        assert Application.objects.get(pk=app.pk).decided_by == cm.user


def test_a_member_of_another_role_is_a_stranger_everywhere(acme):
    with acme.scope():
        stranger = factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email="x@acme.test")
        app = b.queued(acme)
        for call, kwargs in (
            (vetting.reject, {"reason": "No."}),
            (vetting.request_info, {"question": "Why?"}),
            (vetting.approve, {}),
        ):
            refused(call, app, by=stranger, **kwargs)
        assert Application.objects.get(pk=app.pk).status == Status.SUBMITTED
