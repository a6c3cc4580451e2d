"""A registration's page in the partner portal: timeline, SLA clock,
conflict notice, messages, and the partner's actions on it."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from dealreg import services
from dealreg.models import DealRegistration, ExtensionRequest, RegistrationEvent
from prm.tenancy.models import Notification
from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES, Role
from tests import factories

from .conftest import registration_input

pytestmark = pytest.mark.django_db

Status = DealRegistration.Status
Kind = RegistrationEvent.Kind

# Monday 8 March 2027, 10:00 in Berlin: a working day in the tenant's calendar.
MONDAY_10_BERLIN = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)


def url(registration, action: str = "") -> str:
    return f"/deals/{registration.code}/" + (f"{action}/" if action else "")


def fresh(world, registration) -> DealRegistration:
    with world.scope():
        return DealRegistration.objects.get(pk=registration.pk)


@pytest.fixture
def submitted(acme, submit_as):
    return submit_as(acme)


@pytest.fixture
def manager(acme):
    return acme[Role.CHANNEL_MANAGER]


@pytest.fixture
def info_requested(acme, submitted, manager):
    with acme.scope():
        return services.request_info(
            submitted, by=manager, message="Which sites does the customer buy for?"
        )


@pytest.fixture
def approved(acme, submitted, manager):
    with acme.scope():
        return services.approve(submitted, by=manager, reason="Clean registration")


@pytest.fixture
def rival(acme):
    with acme.scope():
        return factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.other_partner)


def client_for(world, membership) -> Client:
    client = Client(HTTP_HOST=world.host)
    client.force_login(membership.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    return client


class TestDetailPage:
    def test_timeline_shows_only_events_for_the_partner(self, acme, submitted, manager):
        with acme.scope():
            RegistrationEvent.objects.create(
                tenant=acme.tenant,
                registration=submitted,
                kind=Kind.MESSAGE,
                message="Internal: check their credit first",
                visible_to_partner=False,
            )
            services.request_info(submitted, by=manager, message="Please add the site count")
        response = acme.client(Role.PARTNER_USER).get(url(submitted))
        assert response.status_code == 200
        kinds = [e.kind for e in response.context["timeline"]]
        assert kinds == [Kind.SUBMITTED, Kind.INFO_REQUESTED]  # "assigned" is internal
        page = response.content.decode()
        assert "Please add the site count" in page
        assert "Internal: check their credit first" not in page
        assert "Assigned" not in page

    def test_sla_clock_in_the_tenants_time_zone(self, acme, products):
        with acme.scope():
            acme.tenant.timezone = "Europe/Berlin"
            acme.tenant.save()
        with time_machine.travel(MONDAY_10_BERLIN, tick=False), acme.scope():
            registration = services.submit(
                tenant=acme.tenant,
                by=acme[Role.PARTNER_USER],
                given=registration_input(products["acme"], expected_close_date=date(2027, 5, 1)),
            )
        with time_machine.travel(MONDAY_10_BERLIN, tick=False):
            client = acme.client(Role.PARTNER_USER)  # a session of that day
            response = client.get(url(registration))
        # 16 business hours of 09:00-17:00 days: Wednesday 10:00 in Berlin.
        assert response.context["sla"]["state"] == "on_track"
        page = response.content.decode()
        assert "10 Mar 2027, 10:00" in page
        assert "Europe/Berlin" in page
        assert "16 h of business time" in page
        with time_machine.travel(MONDAY_10_BERLIN + timedelta(hours=5, minutes=30), tick=False):
            page = client.get(url(registration)).content.decode()
        assert "10 h 30 min of business time" in page
        with time_machine.travel(datetime(2027, 3, 10, 9, 30, tzinfo=UTC), tick=False):
            response = client.get(url(registration))
        assert response.context["sla"]["state"] == "breached"
        assert "Overdue" in response.content.decode()

    def test_paused_clock_while_waiting_for_the_answer(self, acme, info_requested):
        response = acme.client(Role.PARTNER_ADMIN).get(url(info_requested))
        assert response.context["sla"]["state"] == "paused"
        page = response.content.decode()
        assert "Paused — waiting for your answer" in page
        assert "Decision due" not in page
        assert "Which sites does the customer buy for?" in page

    def test_no_clock_once_decided(self, acme, approved):
        response = acme.client(Role.PARTNER_USER).get(url(approved))
        assert response.context["sla"] is None
        assert 'data-testid="sla-clock"' not in response.content.decode()

    def test_conflict_review_without_the_other_partners_identity(
        self, acme, submit_as, rival, manager
    ):
        theirs = submit_as(acme, member=rival, description="Rival's secret plan")
        mine = submit_as(acme, customer_name="Initech Corp.")
        with acme.scope():
            services.add_message(theirs, by=manager, text="Note for the rival only")
        for registration, member in ((mine, acme[Role.PARTNER_USER]), (theirs, rival)):
            other = theirs if registration == mine else mine
            response = client_for(acme, member).get(url(registration))
            page = response.content.decode()
            assert 'data-testid="conflict-notice"' in page
            assert other.code not in page
            assert other.partner.name not in page
        page = acme.client(Role.PARTNER_USER).get(url(mine)).content.decode()
        assert "Rival's secret plan" not in page and "Note for the rival only" not in page

    def test_no_conflict_notice_when_clear(self, acme, submitted):
        page = acme.client(Role.PARTNER_USER).get(url(submitted)).content.decode()
        assert fresh(acme, submitted).conflict_state == "clear"
        assert 'data-testid="conflict-notice"' not in page

    def test_lowercase_code_finds_the_registration(self, acme, submitted):
        response = acme.client(Role.PARTNER_USER).get(url(submitted).lower())
        assert response.status_code == 200

    def test_actions_offered_follow_the_status(self, acme, submitted, manager):
        client = acme.client(Role.PARTNER_USER)
        page = client.get(url(submitted)).content.decode()
        assert url(submitted, "withdraw") in page
        assert url(submitted, "outcome") not in page
        assert url(submitted, "extension") not in page
        with acme.scope():
            services.approve(submitted, by=manager)
        page = client.get(url(submitted)).content.decode()
        assert url(submitted, "outcome") in page and url(submitted, "extension") in page


class TestMessages:
    def test_partner_writes_to_the_approver(self, acme, submitted, manager):
        response = acme.client(Role.PARTNER_ADMIN).post(
            url(submitted, "messages"), {"text": "The customer signs next week."}
        )
        assert response.status_code == 302
        assert response["Location"] == url(submitted) + "#messages"
        with acme.scope():
            event = submitted.events.get(kind=Kind.MESSAGE)
            note = Notification.objects.get(kind="dealreg.message")
        assert event.actor == acme[Role.PARTNER_ADMIN].user
        assert note.user == manager.user
        page = acme.client(Role.PARTNER_USER).get(url(submitted)).content.decode()
        assert "The customer signs next week." in page

    def test_the_approvers_messages_are_shown(self, acme, submitted, manager):
        with acme.scope():
            services.add_message(submitted, by=manager, text="Who is the decision maker?")
        response = acme.client(Role.PARTNER_USER).get(url(submitted))
        assert [e.message for e in response.context["conversation"]] == [
            "Who is the decision maker?"
        ]

    def test_an_empty_message_is_a_field_error(self, acme, submitted):
        response = acme.client(Role.PARTNER_USER).post(url(submitted, "messages"), {"text": " "})
        assert response.status_code == 400
        assert "text" in response.context["message_form"].errors
        with acme.scope():
            assert not submitted.events.filter(kind=Kind.MESSAGE).exists()


class TestAnswer:
    def test_a_plain_answer_resumes_the_clock(self, acme, info_requested, manager):
        response = acme.client(Role.PARTNER_USER).post(
            url(info_requested, "answer"), {"message": "Three sites in Ohio."}
        )
        assert response.status_code == 302
        registration = fresh(acme, info_requested)
        assert registration.status == Status.SUBMITTED
        assert registration.sla_paused_at is None
        with acme.scope():
            event = registration.events.get(kind=Kind.INFO_PROVIDED)
        assert event.message == "Three sites in Ohio."

    def test_answer_page_prefills_the_details(self, acme, info_requested):
        response = acme.client(Role.PARTNER_USER).get(url(info_requested, "answer"))
        assert response.status_code == 200
        assert response.context["form"]["customer_name"].value() == "Initech Corporation"
        assert "Which sites does the customer buy for?" in response.content.decode()

    def details(self, client, registration) -> dict:
        form = client.get(url(registration, "answer")).context["form"]
        data = {"with_details": "1", "message": "Corrected the details."}
        for name in form.fields:
            value = form[name].value()
            if name == "product_lines":
                data[name] = [str(v) for v in value]
            elif value is not None:
                data[name] = str(value)
        return data

    @pytest.fixture
    def conflict_checks(self, monkeypatch):
        """Registrations the conflict check is queued for after commit."""
        from dealreg import tasks

        queued = []
        monkeypatch.setattr(
            tasks.check_conflicts,
            "apply_async",
            lambda kwargs, **options: queued.append(kwargs["registration_id"]),
        )
        return queued

    def test_answer_with_corrected_details(
        self, acme, info_requested, conflict_checks, django_capture_on_commit_callbacks
    ):
        client = acme.client(Role.PARTNER_USER)
        data = self.details(client, info_requested)
        data["customer_name"] = "Initech Holdings"
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url(info_requested, "answer"), data)
        assert response.status_code == 302
        registration = fresh(acme, info_requested)
        assert registration.customer_name == "Initech Holdings"
        assert registration.status == Status.SUBMITTED
        assert conflict_checks == [str(registration.pk)]

    def test_unchanged_details_are_not_sent_again(
        self, acme, info_requested, conflict_checks, django_capture_on_commit_callbacks
    ):
        client = acme.client(Role.PARTNER_USER)
        data = self.details(client, info_requested)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url(info_requested, "answer"), data)
        assert response.status_code == 302
        assert fresh(acme, info_requested).status == Status.SUBMITTED
        assert conflict_checks == []

    def test_a_bad_correction_is_shown_on_its_field(self, acme, info_requested):
        client = acme.client(Role.PARTNER_USER)
        data = self.details(client, info_requested)
        data["expected_close_date"] = (date.today() - timedelta(days=3)).isoformat()
        response = client.post(url(info_requested, "answer"), data)
        assert response.status_code == 400
        assert response.context["form"].errors["expected_close_date"] == [
            "The expected close date is in the past."
        ]
        assert fresh(acme, info_requested).status == Status.MORE_INFO

    def test_an_empty_answer_is_a_field_error(self, acme, info_requested):
        response = acme.client(Role.PARTNER_USER).post(
            url(info_requested, "answer"), {"message": ""}
        )
        assert response.status_code == 400
        assert "message" in response.context["answer_form"].errors
        assert fresh(acme, info_requested).status == Status.MORE_INFO

    def test_nothing_to_answer(self, acme, submitted):
        response = acme.client(Role.PARTNER_USER).post(
            url(submitted, "answer"), {"message": "Unasked"}
        )
        assert response.status_code == 302
        with acme.scope():
            assert not submitted.events.filter(kind=Kind.INFO_PROVIDED).exists()


class TestWithdraw:
    def test_a_colleague_withdraws(self, acme, submitted, manager):
        client = acme.client(Role.PARTNER_ADMIN)
        # The detail page's form asks first: nothing is withdrawn yet.
        asked = client.post(url(submitted, "withdraw"), {"reason": "Customer went quiet"})
        assert asked.status_code == 200
        assert asked.templates[0].name == "components/confirm.html"
        assert fresh(acme, submitted).status == Status.SUBMITTED
        response = client.post(
            url(submitted, "withdraw"), {"reason": "Customer went quiet", "confirm": "yes"}
        )
        assert response.status_code == 302
        registration = fresh(acme, submitted)
        assert registration.status == Status.WITHDRAWN
        with acme.scope():
            assert registration.events.get(kind=Kind.WITHDRAWN).message == "Customer went quiet"

    def test_a_closed_registration_cannot_be_withdrawn(self, acme, approved):
        client = acme.client(Role.PARTNER_USER)
        client.post(url(approved, "outcome"), {"outcome": "lost", "reason": "Budget cut"})
        response = client.post(url(approved, "withdraw"), {"confirm": "yes"}, follow=True)
        assert "cannot be withdrawn" in response.content.decode()
        assert fresh(acme, approved).status == Status.LOST


class TestExtension:
    def test_request_an_extension(self, acme, approved, manager):
        response = acme.client(Role.PARTNER_USER).post(
            url(approved, "extension"), {"reason": "Procurement needs another month"}
        )
        assert response.status_code == 302
        with acme.scope():
            extension = ExtensionRequest.objects.get(registration=approved)
        assert extension.status == ExtensionRequest.Status.PENDING
        page = acme.client(Role.PARTNER_USER).get(url(approved)).content.decode()
        assert "waits for a decision" in page

    def test_a_reason_is_required(self, acme, approved):
        response = acme.client(Role.PARTNER_USER).post(url(approved, "extension"), {"reason": ""})
        assert response.status_code == 400
        assert "reason" in response.context["extension_form"].errors

    def test_a_second_pending_request_is_refused(self, acme, approved):
        client = acme.client(Role.PARTNER_USER)
        client.post(url(approved, "extension"), {"reason": "First"})
        response = client.post(url(approved, "extension"), {"reason": "Second"})
        assert response.status_code == 400
        assert "already waiting" in str(response.context["extension_form"].non_field_errors())
        with acme.scope():
            assert ExtensionRequest.objects.filter(registration=approved).count() == 1

    def test_not_before_approval(self, acme, submitted):
        response = acme.client(Role.PARTNER_USER).post(
            url(submitted, "extension"), {"reason": "Early"}
        )
        assert response.status_code == 400
        with acme.scope():
            assert not ExtensionRequest.objects.exists()


class TestOutcome:
    def test_won_with_amount_and_close_date(self, acme, approved):
        closed = date.today() - timedelta(days=1)
        response = acme.client(Role.PARTNER_USER).post(
            url(approved, "outcome"),
            {"outcome": "won", "amount": "24000.00", "close_date": closed.isoformat()},
        )
        assert response.status_code == 302
        registration = fresh(acme, approved)
        assert registration.status == Status.WON
        assert registration.won_amount == Decimal("24000.00")
        assert registration.won_close_date == closed
        assert registration.won_currency == "USD"

    def test_lost_with_a_reason(self, acme, approved):
        response = acme.client(Role.PARTNER_ADMIN).post(
            url(approved, "outcome"), {"outcome": "lost", "reason": "Went with a competitor"}
        )
        assert response.status_code == 302
        registration = fresh(acme, approved)
        assert registration.status == Status.LOST
        assert registration.lost_reason == "Went with a competitor"

    def test_won_needs_amount_and_date(self, acme, approved):
        response = acme.client(Role.PARTNER_USER).post(url(approved, "outcome"), {"outcome": "won"})
        assert response.status_code == 400
        assert set(response.context["outcome_form"].errors) == {"amount", "close_date"}
        assert fresh(acme, approved).status == Status.APPROVED

    def test_lost_needs_a_reason(self, acme, approved):
        response = acme.client(Role.PARTNER_USER).post(
            url(approved, "outcome"), {"outcome": "lost"}
        )
        assert response.status_code == 400
        assert set(response.context["outcome_form"].errors) == {"reason"}

    def test_a_future_close_date_is_shown_on_its_field(self, acme, approved):
        response = acme.client(Role.PARTNER_USER).post(
            url(approved, "outcome"),
            {
                "outcome": "won",
                "amount": "100",
                "close_date": (date.today() + timedelta(days=5)).isoformat(),
            },
        )
        assert response.status_code == 400
        assert response.context["outcome_form"].errors["close_date"] == [
            "The close date cannot be in the future."
        ]


ACTIONS = [
    ("get", ""),
    ("get", "answer"),
    ("post", "messages"),
    ("get", "withdraw"),
    ("post", "withdraw"),
    ("get", "delete"),
    ("post", "delete"),
    ("post", "extension"),
    ("post", "outcome"),
    ("post", "answer"),
]
POSTS = {
    "messages": {"text": "Hello"},
    "withdraw": {"reason": "x", "confirm": "yes"},
    "delete": {"confirm": "yes"},
    "extension": {"reason": "x"},
    "outcome": {"outcome": "lost", "reason": "x"},
    "answer": {"message": "x"},
}


class TestAccess:
    @pytest.mark.parametrize("method,action", ACTIONS)
    def test_another_partners_registration_is_404(
        self, acme, info_requested, rival, method, action
    ):
        client = client_for(acme, rival)
        response = getattr(client, method)(url(info_requested, action), POSTS.get(action, {}))
        assert response.status_code == 404
        assert fresh(acme, info_requested).status == Status.MORE_INFO

    @pytest.mark.parametrize("method,action", ACTIONS)
    def test_another_tenants_registration_is_404(
        self, acme, globex, info_requested, method, action
    ):
        for role in (Role.PARTNER_USER, Role.OPS_ADMIN):
            client = globex.client(role)
            response = getattr(client, method)(url(info_requested, action), POSTS.get(action, {}))
            assert response.status_code == 404, role

    @pytest.mark.parametrize("role", sorted(STAFF_ROLES))
    def test_staff_get_403(self, acme, info_requested, role):
        client = acme.client(role)
        for method, action in ACTIONS:
            response = getattr(client, method)(url(info_requested, action), POSTS.get(action, {}))
            assert response.status_code == 403, action
        assert fresh(acme, info_requested).status == Status.MORE_INFO

    @pytest.mark.parametrize("role", sorted(PARTNER_ROLES))
    def test_both_partner_roles_see_it(self, acme, info_requested, role):
        assert acme.client(role).get(url(info_requested)).status_code == 200

    def test_an_unknown_code_is_404(self, acme):
        assert acme.client(Role.PARTNER_USER).get("/deals/DR-ZZZZZZZZ/").status_code == 404

    @pytest.mark.parametrize("method,action", ACTIONS)
    def test_anonymous_is_sent_to_log_in(self, acme, submitted, method, action):
        response = getattr(acme.client(), method)(url(submitted, action), POSTS.get(action, {}))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    @pytest.mark.parametrize("action", ["messages", "extension", "outcome"])
    def test_actions_are_post_only(self, acme, submitted, action):
        response = acme.client(Role.PARTNER_USER).get(url(submitted, action))
        assert response.status_code == 405

    @pytest.mark.parametrize("action", ["messages", "withdraw", "extension", "outcome", "answer"])
    def test_actions_need_the_csrf_token(self, acme, info_requested, action):
        client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
        client.force_login(
            acme[Role.PARTNER_USER].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
        )
        response = client.post(url(info_requested, action), POSTS[action])
        assert response.status_code == 403
        assert fresh(acme, info_requested).status == Status.MORE_INFO
