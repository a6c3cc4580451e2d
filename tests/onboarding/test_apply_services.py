"""The applicant's services (onboarding.applications): receiving an
application and every refusal, the questions' answers, a form sent twice,
confirming the email (once, in time), the queue's hooks."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from onboarding import applications
from onboarding.errors import OnboardingError
from onboarding.models import Application, ApplicationEvent, OnboardingSettings
from onboarding.models.applications import hash_token
from prm.tenancy.models import AuditEntry, OutboxMessage

from .builders_apply import applicant, confirmed, mailed_token, question, received

Status = Application.Status
Kind = ApplicationEvent.Kind
LINK = re.compile(r"(http://acme\.localhost/apply/confirm/([\w-]+)/)")


def submit(world, data=None, **kwargs):
    kwargs.setdefault("ip_address", "203.0.113.7")
    with world.scope():
        return applications.submit(world.tenant, data or applicant(), **kwargs)


@pytest.mark.django_db
class TestReceiving:
    def test_it_is_saved_unconfirmed_and_the_link_is_mailed_after_commit(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        now = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            application = submit(acme, user_agent="Mozilla/5.0 " + "x" * 400, now=now)
        with acme.scope():
            application.refresh_from_db()
            assert application.status == Status.UNCONFIRMED
            assert application.company_name == "Initech"
            assert application.normalized_name == "initech"
            assert application.website == "https://initech.example"
            assert application.domain == "initech.example"
            assert application.contact_email == "peter@initech.example"
            assert application.ip_address == "203.0.113.7"
            assert len(application.user_agent) == 300
            assert application.user_agent.startswith("Mozilla/5.0 ")
            assert application.confirm_by == now + dt.timedelta(hours=72)
            assert application.confirmed_at is None
            assert list(application.events.values_list("kind", flat=True)) == [Kind.RECEIVED]
            assert AuditEntry.objects.filter(
                action="onboarding.application_received", object_id=str(application.pk)
            ).exists()
            # The token left the outbox with its mail.
            assert "token" not in OutboxMessage.objects.get().kwargs
        [message] = mailoutbox
        assert message.to == ["peter@initech.example"]
        assert message.subject == "[Acme Corp] Confirm your email to complete your application"
        _url, token = LINK.search(message.body).groups()
        # Only the hash is stored.
        assert application.confirm_token_hash == hash_token(token) != token
        assert "Peter Gibbons" in message.body and application.code in message.body

    def test_the_confirmation_window_is_the_tenants(self, acme):
        with acme.scope():
            OnboardingSettings.objects.update_or_create(
                tenant=acme.tenant, defaults={"confirm_within_hours": 5}
            )
        now = timezone.now()
        application = submit(acme, now=now)
        assert application.confirm_by == now + dt.timedelta(hours=5)

    def test_an_email_domain_is_kept_in_lower_case(self, acme):
        application = submit(acme, applicant(contact_email="Peter.G@InitEch.Example"))
        assert application.contact_email == "Peter.G@initech.example"
        assert application.email_domain == "initech.example"

    def test_a_bad_address_is_not_kept(self, acme):
        application = submit(acme, ip_address="not an address")
        assert application.ip_address is None

    @pytest.mark.parametrize(
        "change, field, message",
        [
            ({"contact_email": "peter@"}, "contact_email", "Enter a valid email address."),
            ({"contact_email": "peter at initech"}, "contact_email", "valid email"),
            ({"contact_email": "  "}, "contact_email", "Enter your work email address."),
            ({"website": "not a website"}, "website", "is not a valid web domain"),
            ({"website": "http://localhost:8000"}, "website", "is not a valid web domain"),
            ({"partner_type": "franchise"}, "partner_type", "Choose the kind of partnership"),
            ({"partner_type": ""}, "partner_type", "Choose the kind of partnership"),
            ({"country": "XX"}, "country", "Choose your company's country."),
            ({"company_size": "huge"}, "company_size", "Choose your company's size."),
            ({"company_name": ""}, "company_name", "Enter your company's name."),
            ({"company_name": "!!!"}, "company_name", "at least one letter or digit"),
            ({"contact_name": " "}, "contact_name", "Enter your name."),
            ({"contact_phone": "1" * 41}, "contact_phone", "at most 40 characters"),
            ({"legal_name": "L" * 201}, "legal_name", "at most 200 characters"),
            ({"markets": "M" * 2001}, "markets", "under 2,000 characters (it has 2,001)"),
        ],
    )
    def test_refusals_name_the_field_and_create_nothing(self, acme, change, field, message):
        with pytest.raises(OnboardingError) as refused:
            submit(acme, applicant(**change))
        assert refused.value.field == field
        assert message in str(refused.value)
        with acme.scope():
            assert not Application.objects.exists()
            assert not OutboxMessage.objects.exists()

    def test_a_refusal_costs_no_attempt(self, acme):
        with acme.scope():
            OnboardingSettings.objects.update_or_create(
                tenant=acme.tenant, defaults={"limit_per_ip": 1}
            )
        for _ in range(3):
            with pytest.raises(OnboardingError):
                submit(acme, applicant(contact_email="bad"))
        assert submit(acme) is not None

    def test_the_same_form_sent_twice_creates_one(self, acme):
        import uuid

        token = uuid.uuid4()
        first = submit(acme, client_token=token)
        assert submit(acme, client_token=token) is None
        assert submit(acme, client_token=uuid.uuid4()) is not None
        with acme.scope():
            assert Application.objects.count() == 2
            assert first.pk in set(Application.objects.values_list("pk", flat=True))
            assert OutboxMessage.objects.count() == 2

    def test_a_known_company_or_address_is_received_like_any_other(self, acme):
        """No refusal tells a stranger what the tenant knows."""
        known = acme.partner
        application = submit(
            acme,
            applicant(company_name=known.name, contact_email="ops.admin@acme.test"),
        )
        assert application.status == Status.UNCONFIRMED
        assert application.duplicate_partner is None  # named once confirmed


@pytest.mark.django_db
class TestQuestions:
    def test_answers_are_checked_and_stored_by_key(self, acme):
        question(acme, "vendors", "Which vendors do you sell?", required=True)
        question(acme, "staff", "Certified engineers", field_type="number")
        question(acme, "founded", "Founded on", field_type="date")
        question(acme, "focus", "Focus", field_type="choice", choices="SMB\nEnterprise")
        question(acme, "nda", "We accept the NDA", field_type="checkbox")
        question(acme, "old", "Switched off", is_active=False)
        application = submit(
            acme,
            applicant(
                answers={
                    "vendors": "Cisco, <b>Juniper</b>",
                    "staff": "12.50",
                    "founded": "2001-02-03",
                    "focus": "Enterprise",
                    "nda": True,
                    "old": "ignored",
                    "unknown": "ignored",
                }
            ),
        )
        assert application.answers == {
            "vendors": "Cisco, <b>Juniper</b>",
            "staff": "12.5",
            "founded": "2001-02-03",
            "focus": "Enterprise",
            "nda": True,
        }

    @pytest.mark.parametrize(
        "answers, field, message",
        [
            ({}, "q_vendors", "Which vendors do you sell?: This field is required."),
            ({"vendors": "  "}, "q_vendors", "This field is required."),
            ({"vendors": "x", "focus": "Government"}, "q_focus", "Select a valid choice."),
            ({"vendors": "x", "staff": "many"}, "q_staff", "Enter a number."),
            ({"vendors": "x", "founded": "yesterday"}, "q_founded", "Enter a valid date."),
        ],
    )
    def test_a_missing_or_wrong_answer_is_refused(self, acme, answers, field, message):
        question(acme, "vendors", "Which vendors do you sell?", required=True)
        question(acme, "staff", "Certified engineers", field_type="number")
        question(acme, "founded", "Founded on", field_type="date")
        question(acme, "focus", "Focus", field_type="choice", choices="SMB\nEnterprise")
        with pytest.raises(OnboardingError) as refused:
            submit(acme, applicant(answers=answers))
        assert refused.value.field == field
        assert message in str(refused.value)
        with acme.scope():
            assert not Application.objects.exists()

    def test_another_tenants_questions_are_not_asked(self, acme, globex):
        question(globex, "vendors", "Which vendors do you sell?", required=True)
        assert submit(acme).answers == {}


@pytest.mark.django_db
class TestConfirming:
    def test_confirming_queues_it_and_mails_that_it_was_received(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        application = received(acme)
        now = timezone.now() + dt.timedelta(hours=1)
        with acme.scope(), django_capture_on_commit_callbacks(execute=True):
            assert applications.confirm(application, now=now) is True
        with acme.scope():
            application.refresh_from_db()
            assert application.status == Status.SUBMITTED
            assert application.confirmed_at == now
            # Then vetting's hook routes it to its reviewer.
            assert list(application.events.values_list("kind", flat=True)) == [
                Kind.RECEIVED,
                Kind.CONFIRMED,
                Kind.ASSIGNED,
            ]
            assert AuditEntry.objects.filter(action="onboarding.application_confirmed").count() == 1
        # The applicant's mail (the reviewer is told too, by vetting's hook).
        [message] = [m for m in mailoutbox if m.to == [application.contact_email]]
        assert message.subject == "[Acme Corp] We received your application"
        assert application.code in message.body
        assert "Initech" in message.body

    def test_a_second_confirmation_changes_nothing(self, acme):
        application = confirmed(acme)
        with acme.scope():
            assert applications.confirm(application) is False
            application.refresh_from_db()
            assert application.status == Status.SUBMITTED
            assert application.events.filter(kind=Kind.CONFIRMED).count() == 1
            assert OutboxMessage.objects.filter(kwargs__kind="received").count() == 1

    def test_a_late_confirmation_is_refused_and_changes_nothing(self, acme):
        application = received(acme)
        with acme.scope():
            with pytest.raises(OnboardingError, match="expired"):
                applications.confirm(
                    application, now=application.confirm_by + dt.timedelta(seconds=1)
                )
            application.refresh_from_db()
            assert application.status == Status.UNCONFIRMED
            assert application.confirmed_at is None
            assert not application.events.filter(kind=Kind.CONFIRMED).exists()
            # Just in time is in time.
            assert applications.confirm(application, now=application.confirm_by)

    def test_an_expired_application_cannot_be_confirmed(self, acme):
        application = received(acme)
        with acme.scope():
            Application.objects.filter(pk=application.pk).update(status=Status.EXPIRED)
            with pytest.raises(OnboardingError, match="expired"):
                applications.confirm(application)
            application.refresh_from_db()
            assert application.status == Status.EXPIRED

    def test_the_token_finds_only_its_own_tenants_application(self, acme, globex):
        application = received(acme)
        token = mailed_token(application)
        with acme.scope():
            assert applications.by_confirm_token(token) == application
            assert applications.by_confirm_token(token + "x") is None
        with globex.scope():
            assert applications.by_confirm_token(token) is None

    def test_queue_hooks_run_inside_the_confirmation(self, acme, monkeypatch):
        seen = []

        def hook(application, now):
            # In the transaction, with the application already queued.
            seen.append((application.code, application.status, now))
            application.due_at = now + dt.timedelta(days=5)
            application.save(update_fields=["due_at"])

        monkeypatch.setattr(applications, "ON_QUEUED", [hook])
        application = received(acme)
        now = timezone.now()
        with acme.scope():
            applications.confirm(application, now=now)
            application.refresh_from_db()
        assert seen == [(application.code, Status.SUBMITTED, now)]
        assert application.due_at == now + dt.timedelta(days=5)

    def test_a_failing_hook_leaves_it_unconfirmed(self, acme, monkeypatch):
        def hook(application, now):
            raise RuntimeError("routing failed")

        monkeypatch.setattr(applications, "ON_QUEUED", [hook])
        application = received(acme)
        with acme.scope():
            with pytest.raises(RuntimeError):
                applications.confirm(application)
            application.refresh_from_db()
            assert application.status == Status.UNCONFIRMED
            assert not OutboxMessage.objects.filter(kwargs__kind="received").exists()
