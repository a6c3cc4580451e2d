"""The applicant answers the reviewer's question (applications.provide_info):
back in the queue, the reviewer told, the link used up; every refusal
changes nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from onboarding import applications
from onboarding.errors import OnboardingError
from onboarding.models import Application, ApplicationEvent
from prm.tenancy.models import AuditEntry, Notification
from prm.tenancy.roles import Role

from .builders_apply import asked, confirmed

Status = Application.Status
Kind = ApplicationEvent.Kind


def waiting(world, *, reviewer=None):
    application = confirmed(world)
    if reviewer is not None:
        with world.scope():
            application.reviewer = reviewer
            application.save(update_fields=["reviewer"])
    return application, asked(world, application)


@pytest.mark.django_db
class TestProvideInfo:
    def test_the_answer_goes_back_to_the_reviewer(self, acme):
        reviewer = acme[Role.CHANNEL_MANAGER].user
        application, token = waiting(acme, reviewer=reviewer)
        now = timezone.now() + dt.timedelta(days=1)
        with acme.scope():
            assert applications.by_info_token(token) == application
            applications.provide_info(application, answer="  Cisco and Juniper.  ", now=now)
            application.refresh_from_db()
            assert application.status == Status.SUBMITTED
            assert application.info_token_hash == ""
            assert application.info_request == "Which products do you sell?"
            event = application.events.get(kind=Kind.INFO_PROVIDED)
            assert (event.message, event.at, event.by) == ("Cisco and Juniper.", now, None)
            assert AuditEntry.objects.filter(action="onboarding.info_provided").count() == 1
            [note] = Notification.objects.filter(kind="onboarding.application_answered")
            # The link is used up.
            assert applications.by_info_token(token) is None
        assert note.user == reviewer
        assert note.title == f"Initech answered your question on {application.code}"
        assert note.body.startswith("Cisco and Juniper.\n\nThe application is back in your queue.")

    def test_without_a_reviewer_ops_are_told(self, acme):
        application, _ = waiting(acme)
        with acme.scope():
            applications.provide_info(application, answer="Yes.")
            users = set(
                Notification.objects.filter(kind="onboarding.application_answered").values_list(
                    "user", flat=True
                )
            )
        assert users == {acme[Role.OPS_ADMIN].user.pk}

    def test_answered_hooks_restart_the_clock(self, acme, monkeypatch):
        seen = []
        monkeypatch.setattr(
            applications, "ON_ANSWERED", [lambda a, now: seen.append((a.status, now))]
        )
        application, _ = waiting(acme)
        now = timezone.now()
        with acme.scope():
            applications.provide_info(application, answer="Yes.", now=now)
        assert seen == [(Status.SUBMITTED, now)]

    @pytest.mark.parametrize(
        "answer, message", [("   ", "Write your answer."), ("x" * 4001, "under 4,000 characters")]
    )
    def test_an_empty_or_long_answer_is_refused(self, acme, answer, message):
        application, token = waiting(acme)
        with acme.scope():
            with pytest.raises(OnboardingError, match=message) as refused:
                applications.provide_info(application, answer=answer)
            assert refused.value.field == "answer"
            application.refresh_from_db()
            assert application.status == Status.MORE_INFO
            assert applications.by_info_token(token) == application
            assert not Notification.objects.filter(kind="onboarding.application_answered").exists()

    def test_a_second_answer_is_refused_and_changes_nothing(self, acme):
        application, _ = waiting(acme)
        with acme.scope():
            applications.provide_info(application, answer="First.")
            with pytest.raises(OnboardingError, match="already used"):
                applications.provide_info(application, answer="Second.")
            assert application.events.filter(kind=Kind.INFO_PROVIDED).count() == 1
            answered = Notification.objects.filter(kind="onboarding.application_answered")
            assert answered.count() == 1

    def test_the_token_finds_only_its_own_tenants_application(self, acme, globex):
        _, token = waiting(acme)
        with globex.scope():
            assert applications.by_info_token(token) is None
