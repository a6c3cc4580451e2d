"""The public application pages on the tenant's host: apply, confirm the
email, answer a question. No login; one answer whatever the tenant knows;
the honeypot; everything typed escaped; another tenant's link is unknown."""

import re

import pytest
from django.utils import timezone

from onboarding.models import Application, OnboardingSettings
from prm.tenancy.models import OutboxMessage
from prm.tenancy.roles import Role

from .builders_apply import asked, confirmed, fields, mailed_token, question, received

Status = Application.Status
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
CLIENT_TOKEN = re.compile(r'name="client_token" value="[^"]*"')


def applications_of(world):
    with world.scope():
        return list(Application.objects.all())


def policy(world, **values):
    with world.scope():
        OnboardingSettings.objects.update_or_create(tenant=world.tenant, defaults=values)


@pytest.mark.django_db
class TestApplyPage:
    @pytest.mark.parametrize("role", [None, Role.PARTNER_USER, Role.OPS_ADMIN])
    def test_anyone_sees_the_form(self, acme, role):
        response = acme.client(role).get("/apply/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "Become a Acme Corp partner" in page
        for name in ("company_name", "legal_name", "website", "country", "partner_type"):
            assert f'name="{name}"' in page
        for name in ("company_size", "specialities", "markets", "contact_name", "contact_email"):
            assert f'name="{name}"' in page
        assert 'name="contact_phone"' in page

    def test_the_welcome_text_is_plain_text_with_its_line_breaks(self, acme):
        policy(acme, welcome_text=f"Welcome, **partners**!\n\nRead this first.\n{SCRIPT}")
        page = acme.client().get("/apply/").content.decode()
        assert "<p>Welcome, **partners**!</p>" in page
        assert f"<p>Read this first.<br>{ESCAPED}</p>" in page
        assert SCRIPT not in page

    def test_the_tenants_questions_are_asked_in_order(self, acme, globex):
        question(acme, "vendors", "Which vendors?", position=2, required=True)
        question(acme, "engineers", "How many engineers?", position=1, field_type="number")
        question(acme, "old", "Switched off", is_active=False)
        question(globex, "secret", "Globex only")
        page = acme.client().get("/apply/").content.decode()
        assert page.index("How many engineers?") < page.index("Which vendors?")
        assert 'name="q_vendors"' in page and 'name="q_engineers"' in page
        assert "Switched off" not in page and "Globex only" not in page

    def test_closed_applications_get_a_friendly_not_found_page(self, acme):
        policy(acme, applications_open=False)
        client = acme.client()
        response = client.get("/apply/")
        assert response.status_code == 404
        assert "not taking new partner applications" in response.content.decode()
        assert client.post("/apply/", fields()).status_code == 404
        assert applications_of(acme) == []

    def test_sending_it_says_check_your_inbox(self, acme):
        response = acme.client().post(
            "/apply/", fields(), REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="TestBrowser/1.0"
        )
        assert response.status_code == 200
        page = response.content.decode()
        assert "Check your inbox" in page
        assert "peter@initech.example" in page
        assert "no-store" in response["Cache-Control"]
        [application] = applications_of(acme)
        assert application.status == Status.UNCONFIRMED
        assert (application.ip_address, application.user_agent) == (
            "203.0.113.5",
            "TestBrowser/1.0",
        )
        assert application.specialities == "Networking\nSecurity"

    def test_answers_to_the_questions_are_stored_by_key(self, acme):
        question(acme, "vendors", "Which vendors?", required=True)
        question(acme, "engineers", "How many engineers?", field_type="number")
        question(acme, "nda", "NDA accepted", field_type="checkbox")
        response = acme.client().post(
            "/apply/", fields(q_vendors="Cisco", q_engineers="7", q_nda="on")
        )
        assert response.status_code == 200
        [application] = applications_of(acme)
        assert application.answers == {"vendors": "Cisco", "engineers": "7", "nda": True}

    @pytest.mark.parametrize(
        "change, field, message",
        [
            ({"contact_email": "peter@"}, "contact_email", "Enter a valid email address."),
            ({"website": "not a website"}, "website", "is not a valid web domain"),
            ({"partner_type": "franchise"}, "partner_type", "Select a valid choice."),
            ({"q_vendors": ""}, "q_vendors", "This field is required."),
        ],
    )
    def test_mistakes_are_shown_on_their_field_and_nothing_is_created(
        self, acme, change, field, message
    ):
        question(acme, "vendors", "Which vendors?", required=True)
        response = acme.client().post("/apply/", fields(**{"q_vendors": "Cisco", **change}))
        assert response.status_code == 400
        assert message in response.context["form"].errors[field][0]
        assert "Please correct the fields marked below." in response.content.decode()
        assert applications_of(acme) == []

    def test_a_known_company_or_address_gets_the_same_answer(self, acme):
        """The page says nothing about what the tenant knows."""
        known = acme.client().post(
            "/apply/",
            fields(
                company_name=acme.partner.name,
                website="https://one.acme-partners.test",
                contact_email="partner.admin@acme.test",
            ),
            REMOTE_ADDR="203.0.113.1",
        )
        unknown = acme.client().post(
            "/apply/", fields(contact_email="nobody@initech.example"), REMOTE_ADDR="203.0.113.2"
        )
        assert known.status_code == unknown.status_code == 200
        assert (
            known.content.decode().replace("partner.admin@acme.test", "nobody@initech.example")
            == unknown.content.decode()
        )
        assert len(applications_of(acme)) == 2

    def test_a_filled_honeypot_gets_the_same_answer_and_creates_nothing(self, acme):
        client = acme.client()
        human = client.post("/apply/", fields(), REMOTE_ADDR="203.0.113.1")
        robot = client.post("/apply/", fields(fax="+1 555 0100"), REMOTE_ADDR="203.0.113.2")
        assert robot.status_code == 200
        assert robot.content == human.content
        assert len(applications_of(acme)) == 1
        # Even a robot's otherwise invalid form.
        robot = client.post("/apply/", {"fax": "x", "contact_email": "bot@spam.example"})
        assert robot.status_code == 200
        assert "Check your inbox" in robot.content.decode()
        assert len(applications_of(acme)) == 1

    def test_the_honeypot_is_hidden_from_people(self, acme):
        page = acme.client().get("/apply/").content.decode()
        box = re.search(
            r'<div class="visually-hidden" aria-hidden="true">(.*?)</div>\s*</div>', page, re.S
        )
        assert box is not None
        assert 'name="fax"' in box.group(1)
        assert 'tabindex="-1"' in box.group(1) and 'autocomplete="off"' in box.group(1)

    def test_the_same_form_sent_twice_creates_one(self, acme):
        client = acme.client()
        page = client.get("/apply/").content.decode()
        token = CLIENT_TOKEN.search(page).group(0).split('value="')[1].rstrip('"')
        first = client.post("/apply/", fields(client_token=token))
        second = client.post("/apply/", fields(client_token=token))
        assert first.content == second.content
        assert len(applications_of(acme)) == 1
        with acme.scope():
            assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db
class TestConfirmPage:
    def test_the_mailed_link_opens_a_button_that_confirms(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        client = acme.client()
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/apply/", fields())
        [mail] = mailoutbox
        path = re.search(r"http://acme\.localhost(/apply/confirm/[\w-]+/)", mail.body).group(1)
        page = client.get(path)
        assert page.status_code == 200
        assert 'data-testid="confirm-button"' in page.content.decode()
        # Opening the link (a mail scanner does) confirms nothing.
        [application] = applications_of(acme)
        assert application.status == Status.UNCONFIRMED
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(path)
        assert response.status_code == 302 and response["Location"] == path
        [application] = applications_of(acme)
        assert application.status == Status.SUBMITTED
        page = client.get(path).content.decode()
        assert "Thank you: your email is confirmed." in page
        assert "Your application is with us" in page
        assert mailoutbox[-1].subject == "[Acme Corp] We received your application"

    def test_a_second_confirmation_says_so(self, acme):
        application = confirmed(acme)
        path = f"/apply/confirm/{mailed_token(application)}/"
        client = acme.client()
        response = client.post(path, follow=True)
        assert "Your email was already confirmed." in response.content.decode()
        with acme.scope():
            # Received, confirmed, assigned to its reviewer: nothing more.
            assert application.events.count() == 3

    def test_an_expired_link_says_so_and_changes_nothing(self, acme, time_machine):
        application = received(acme)
        path = f"/apply/confirm/{mailed_token(application)}/"
        time_machine.move_to(application.confirm_by + timezone.timedelta(minutes=1))
        client = acme.client()
        for response in (client.get(path), client.post(path)):
            assert response.status_code == 410
            assert "This link has expired" in response.content.decode()
        [application] = applications_of(acme)
        assert application.status == Status.UNCONFIRMED

    def test_an_unknown_link_is_not_found(self, acme):
        received(acme)
        client = acme.client()
        for response in (client.get("/apply/confirm/nope/"), client.post("/apply/confirm/nope/")):
            assert response.status_code == 404
            assert "This link is not valid" in response.content.decode()

    def test_another_tenants_link_does_nothing_here(self, acme, globex):
        application = received(acme)
        path = f"/apply/confirm/{mailed_token(application)}/"
        client = globex.client(Role.OPS_ADMIN)
        assert client.get(path).status_code == 404
        assert client.post(path).status_code == 404
        [application] = applications_of(acme)
        assert application.status == Status.UNCONFIRMED

    def test_what_the_applicant_typed_is_escaped(self, acme):
        application = received(
            acme,
            company_name=f"Evil {SCRIPT} Ltd",
            contact_name=SCRIPT,
            contact_email="e@evil.example",
        )
        page = acme.client().get(f"/apply/confirm/{mailed_token(application)}/").content.decode()
        assert SCRIPT not in page
        assert f"Evil {ESCAPED} Ltd" in page
        assert page.count(ESCAPED) >= 2


@pytest.mark.django_db
class TestAnswerPage:
    def test_the_question_and_the_answer(self, acme):
        application = confirmed(acme)
        token = asked(acme, application, f"Which vendors? {SCRIPT}")
        client = acme.client()
        page = client.get(f"/apply/answer/{token}/")
        assert page.status_code == 200
        text = page.content.decode()
        assert f"Which vendors? {ESCAPED}" in text and SCRIPT not in text
        response = client.post(f"/apply/answer/{token}/", {"answer": "Cisco."})
        assert response.status_code == 200
        assert "your answer is sent" in response.content.decode()
        [application] = applications_of(acme)
        assert application.status == Status.SUBMITTED
        # The link is used up.
        again = client.post(f"/apply/answer/{token}/", {"answer": "Again."})
        assert again.status_code == 404
        assert "used already" in again.content.decode()
        with acme.scope():
            assert application.events.filter(kind="info_provided").count() == 1

    def test_an_empty_answer_is_refused_on_its_field(self, acme):
        application = confirmed(acme)
        token = asked(acme, application)
        response = acme.client().post(f"/apply/answer/{token}/", {"answer": "  "})
        assert response.status_code == 400
        assert response.context["form"].errors["answer"]
        [application] = applications_of(acme)
        assert application.status == Status.MORE_INFO

    def test_another_tenants_link_does_nothing_here(self, acme, globex):
        application = confirmed(acme)
        token = asked(acme, application)
        client = globex.client()
        assert client.get(f"/apply/answer/{token}/").status_code == 404
        assert client.post(f"/apply/answer/{token}/", {"answer": "x"}).status_code == 404
        [application] = applications_of(acme)
        assert application.status == Status.MORE_INFO

    def test_the_reviewer_sees_the_answer_escaped(self, acme):
        """The staff side: the notification (and the application's str the
        admin shows) carry the applicant's text, escaped on the page."""
        application = confirmed(acme, company_name=f"Evil {SCRIPT}")
        token = asked(acme, application)
        acme.client().post(f"/apply/answer/{token}/", {"answer": f"Answer {SCRIPT}"})
        assert SCRIPT in str(application)
        page = acme.client(Role.OPS_ADMIN).get("/notifications/").content.decode()
        assert f"Evil {ESCAPED} answered your question" in page
        assert SCRIPT not in page
