"""Deciding registrations in the tenant admin: the changelist (filters, SLA
colours, conflict counts, constant queries), the change page (conflicts,
timeline, decisions, extensions, reassignment, messages), bulk decisions,
and who may do what, in which tenant."""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from dealreg import services
from dealreg.admin_lists import SlaClock
from dealreg.models import (
    Conflict,
    DealRegistration,
    DirectOpportunity,
    ExtensionRequest,
    RegistrationEvent,
)
from prm.tenancy.models import AuditEntry, Notification
from prm.tenancy.roles import Role
from tests import factories

from .conftest import registration_input

pytestmark = pytest.mark.django_db

Status = DealRegistration.Status
Kind = RegistrationEvent.Kind
CHANGELIST = reverse("tenant_admin:dealreg_dealregistration_changelist")
STAFF = ["ops_admin", "channel_manager", "finance", "executive"]


def change_url(registration) -> str:
    return reverse("tenant_admin:dealreg_dealregistration_change", args=[registration.pk])


def history_url(registration) -> str:
    return reverse("tenant_admin:dealreg_dealregistration_history", args=[registration.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def fresh(world, registration) -> DealRegistration:
    with world.scope():
        return DealRegistration.objects.get(pk=registration.pk)


def act(client, registration, action: str, confirm: bool = True, **fields):
    """Post an action's form, confirmed (``confirm=yes``) unless ``confirm``
    is false: rejecting and reversing ask first (test_admin_confirm.py)."""
    data = {"_action": action, **{f"{action}-{k}": v for k, v in fields.items()}}
    if confirm:
        data["confirm"] = "yes"
    return client.post(change_url(registration), data)


def listed_codes(response) -> list[str]:
    return [r.code for r in response.context["cl"].result_list]


@pytest.fixture
def rival(acme):
    """A partner user at acme's second partner (no channel manager)."""
    with acme.scope():
        return factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.other_partner)


@pytest.fixture
def second_cm(acme):
    with acme.scope():
        return factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email="cm2@acme.test")


def client_for(world, membership):
    from django.test import Client

    client = Client(HTTP_HOST=world.host)
    client.force_login(membership.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    return client


# --- Who sees what -----------------------------------------------------------------


class TestAccess:
    @pytest.mark.parametrize("role", STAFF)
    def test_staff_see_the_list_and_the_page(self, acme, submit_as, role):
        registration = submit_as(acme)
        client = acme.client(role)
        response = client.get(CHANGELIST, {"queue": "all"})
        assert response.status_code == 200
        assert listed_codes(response) == [registration.code]
        assert client.get(change_url(registration)).status_code == 200
        assert client.get(history_url(registration)).status_code == 200

    @pytest.mark.parametrize("role", ["partner_admin", "partner_user"])
    def test_partner_roles_get_403(self, acme, submit_as, role):
        registration = submit_as(acme)
        client = acme.client(role)
        assert client.get(CHANGELIST).status_code == 403
        assert client.get(change_url(registration)).status_code == 403
        assert act(client, registration, "approve").status_code == 403
        assert fresh(acme, registration).status == Status.SUBMITTED

    def test_another_tenants_registration_is_404_for_every_view_and_action(
        self, acme, globex, submit_as
    ):
        registration = submit_as(acme)
        intruder = globex.client("ops_admin")
        assert intruder.get(change_url(registration)).status_code == 404
        assert intruder.get(history_url(registration)).status_code == 404
        for action, fields in [
            ("approve", {}),
            ("reject", {"reason": "no"}),
            ("message", {"text": "hello"}),
        ]:
            assert act(intruder, registration, action, **fields).status_code == 404
        assert fresh(acme, registration).status == Status.SUBMITTED
        assert listed_codes(intruder.get(CHANGELIST)) == []

    def test_drafts_stay_the_partners_own(self, acme, products):
        with acme.scope():
            draft = services.save_draft(
                tenant=acme.tenant,
                by=acme[Role.PARTNER_USER],
                given=registration_input(products["acme"]),
            )
        client = acme.client("ops_admin")
        assert listed_codes(client.get(CHANGELIST)) == []
        assert client.get(change_url(draft)).status_code == 404

    @pytest.mark.parametrize("role", ["finance", "executive"])
    def test_finance_and_executives_only_look(self, acme, submit_as, role):
        registration = submit_as(acme)
        client = acme.client(role)
        page = client.get(change_url(registration)).content.decode()
        assert 'name="_action"' not in page
        assert "approve_selected" not in client.get(CHANGELIST).content.decode()
        for action, fields in [
            ("approve", {}),
            ("reject", {"reason": "no"}),
            ("request_info", {"message": "?"}),
            ("message", {"text": "hi"}),
            ("reassign", {"approver": str(acme[Role.OPS_ADMIN].user.pk)}),
        ]:
            assert act(client, registration, action, **fields).status_code == 403, action
        assert fresh(acme, registration).status == Status.SUBMITTED
        with acme.scope():
            assert not RegistrationEvent.objects.filter(kind=Kind.MESSAGE).exists()

    def test_a_channel_manager_decides_only_their_own(self, acme, submit_as, rival, second_cm):
        # acme's partner is assigned to the channel manager, who is its approver.
        mine = submit_as(acme)
        # The rival partner has no channel manager: routed to whoever has the
        # fewest pending registrations, which is the second channel manager.
        theirs = submit_as(
            acme, member=rival, customer_name="Umbrella", customer_domain="u.example"
        )
        assert theirs.approver == second_cm.user
        client = acme.client("channel_manager")
        page = client.get(change_url(theirs))
        assert page.status_code == 200
        assert "forms" in page.context and "approve" not in page.context["forms"]
        assert "decides it" in page.content.decode()
        assert act(client, theirs, "approve").status_code == 403
        assert act(client, theirs, "message", text="hi").status_code == 403
        assert fresh(acme, theirs).status == Status.SUBMITTED
        response = act(client, mine, "approve", reason="Looks good")
        assert response.status_code == 302
        assert fresh(acme, mine).status == Status.APPROVED

    def test_a_channel_manager_decides_registrations_of_partners_assigned_to_them(
        self, acme, submit_as, rival, second_cm
    ):
        theirs = submit_as(
            acme, member=rival, customer_name="Umbrella", customer_domain="u.example"
        )
        with acme.scope():
            assign_perm("manage_partner", acme[Role.CHANNEL_MANAGER].user, acme.other_partner)
        response = act(acme.client("channel_manager"), theirs, "reject", reason="Not a fit")
        assert response.status_code == 302
        assert fresh(acme, theirs).status == Status.REJECTED

    def test_a_plain_save_of_the_registration_is_refused(self, acme, submit_as):
        registration = submit_as(acme)
        response = acme.client("ops_admin").post(
            change_url(registration), {"customer_name": "Changed"}
        )
        assert response.status_code == 403
        assert fresh(acme, registration).customer_name == "Initech Corporation"

    def test_an_unknown_action_is_a_bad_request(self, acme, submit_as):
        registration = submit_as(acme)
        response = acme.client("ops_admin").post(change_url(registration), {"_action": "delete"})
        assert response.status_code == 400

    def test_nobody_adds_or_deletes_registrations_here(self, acme, submit_as):
        registration = submit_as(acme)
        client = acme.client("ops_admin")
        assert client.get(reverse("tenant_admin:dealreg_dealregistration_add")).status_code == 403
        delete = reverse("tenant_admin:dealreg_dealregistration_delete", args=[registration.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        assert fresh(acme, registration).pk == registration.pk


# --- The list ------------------------------------------------------------------------


def set_due(world, registration, due) -> None:
    with world.scope():
        DealRegistration.objects.filter(pk=registration.pk).update(sla_due_at=due)


class TestChangelist:
    def test_sla_state_filters_and_colours(self, acme, submit_as, rival):
        now = timezone.now()
        on_track = submit_as(acme, customer_name="Alpha Works", customer_domain="alpha.example")
        soon = submit_as(acme, customer_name="Bravo Labs", customer_domain="bravo.example")
        late = submit_as(acme, customer_name="Charlie Foods", customer_domain="charlie.example")
        paused = submit_as(acme, customer_name="Delta Air", customer_domain="delta.example")
        decided = submit_as(acme, customer_name="Echo Media", customer_domain="echo.example")
        set_due(acme, on_track, now + timedelta(days=30))
        set_due(acme, soon, now + timedelta(minutes=30))
        set_due(acme, late, now - timedelta(hours=1))
        with acme.scope():
            services.request_info(paused, by=acme[Role.OPS_ADMIN], message="Which site?")
            services.reject(decided, by=acme[Role.OPS_ADMIN], reason="Duplicate")
        client = acme.client("channel_manager")
        expected = {
            "on_track": on_track,
            "due_soon": soon,
            "breached": late,
            "paused": paused,
        }
        for state, registration in expected.items():
            response = client.get(CHANGELIST, {"sla": state})
            assert listed_codes(response) == [registration.code], state
            assert f'dr-sla dr-sla-{state}"' in response.content.decode()
            # The list agrees with the service's own rule.
            with acme.scope():
                assert services.sla_state(fresh(acme, registration)) == state
        html = client.get(CHANGELIST, {"queue": "all"}).content.decode()
        assert "SLA met" in html  # the rejected one, decided in time
        assert 'href="/static/admin/dealreg.css"' in html

    def test_the_sla_clock_matches_the_service_at_the_quarter_mark(self, acme, submit_as):
        registration = submit_as(acme)
        with acme.scope():
            from django.test import RequestFactory

            request = RequestFactory().get("/")
            request.tenant = acme.tenant
            clock = SlaClock.for_request(request)
            # Just inside and just outside "under a quarter of the SLA left".
            set_due(acme, registration, clock.soon_before - timedelta(seconds=1))
            assert services.sla_state(fresh(acme, registration), now=clock.now) == "due_soon"
            assert list(DealRegistration.objects.filter(clock.condition("due_soon"))) == [
                fresh(acme, registration)
            ]
            set_due(acme, registration, clock.soon_before)
            assert services.sla_state(fresh(acme, registration), now=clock.now) == "on_track"
            assert list(DealRegistration.objects.filter(clock.condition("on_track"))) == [
                fresh(acme, registration)
            ]
            assert not DealRegistration.objects.filter(clock.condition("due_soon")).exists()

    def test_status_partner_and_assignment_filters(self, acme, submit_as, rival, second_cm):
        mine = submit_as(acme)
        theirs = submit_as(
            acme, member=rival, customer_name="Umbrella", customer_domain="u.example"
        )
        with acme.scope():
            services.approve(mine, by=acme[Role.OPS_ADMIN])
        client = acme.client("channel_manager")

        def codes(**query):
            return sorted(listed_codes(client.get(CHANGELIST, query)))

        assert codes(status="approved") == [mine.code]
        assert codes(status="submitted") == [theirs.code]
        assert codes(partner__id__exact=str(acme.other_partner.pk)) == [theirs.code]
        assert codes(assigned="me") == [mine.code]
        assert codes(assigned="my_partners") == [mine.code]
        assert codes(assigned="nobody") == []
        assert (
            sorted(listed_codes(acme.client("ops_admin").get(CHANGELIST, {"assigned": "me"}))) == []
        )
        second = client_for(acme, second_cm)
        assert listed_codes(second.get(CHANGELIST, {"assigned": "me"})) == [theirs.code]

    def test_conflict_count_counts_each_counterpart_once(self, acme, submit_as, rival):
        first = submit_as(acme)
        second = submit_as(acme, member=rival, customer_name="Initech Corp.")
        lone = submit_as(acme, customer_name="Nobody Else", customer_domain="alone.example")
        with acme.scope():
            # Approving re-runs the check from the first's side: the pair is
            # now stored from both ends.
            services.approve(first, by=acme[Role.OPS_ADMIN])
            assert Conflict.objects.filter(registration=first, other_registration=second).exists()
            assert Conflict.objects.filter(registration=second, other_registration=first).exists()
        response = acme.client("ops_admin").get(CHANGELIST, {"queue": "all"})
        counts = {r.code: r.conflict_total for r in response.context["cl"].result_list}
        assert counts == {first.code: 1, second.code: 1, lone.code: 0}
        page = response.content.decode()
        assert '<span title="1 possible conflict">' in page
        assert 'chip chip-warn dr-conflict-count">1</span>' in page

    def test_search_by_code_and_customer(self, acme, submit_as):
        registration = submit_as(acme)
        submit_as(acme, customer_name="Other Co", customer_domain="other.example")
        client = acme.client("ops_admin")
        assert listed_codes(client.get(CHANGELIST, {"q": registration.code})) == [registration.code]
        assert listed_codes(client.get(CHANGELIST, {"q": "initech"})) == [registration.code]

    def test_queries_do_not_grow_with_the_rows(
        self, acme, submit_as, django_assert_max_num_queries
    ):
        with acme.scope():
            members = [acme[Role.PARTNER_USER]]
            for n in range(2):
                partner = factories.make_partner(acme.tenant, f"Extra Partner {n}")
                members.append(
                    factories.make_member(acme.tenant, Role.PARTNER_USER, partner=partner)
                )

        def submit_many(start: int, count: int) -> None:
            for n in range(start, start + count):
                submit_as(
                    acme,
                    member=members[n % len(members)],
                    customer_name=f"Customer {n} {'Initech' if n % 4 == 0 else 'Solo'}",
                    customer_domain=f"c{n}.example",
                )

        client = acme.client("channel_manager")
        submit_many(0, 3)
        everything = {"queue": "all"}
        client.get(CHANGELIST, everything)  # warm the session and caches alike for both runs
        with CaptureQueriesContext(connection) as few:
            response = client.get(CHANGELIST, everything)
        assert len(response.context["cl"].result_list) == 3
        submit_many(3, 27)
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = client.get(CHANGELIST, everything)
        assert len(response.context["cl"].result_list) == 30
        assert sum(r.conflict_total for r in response.context["cl"].result_list) > 0


# --- The page ------------------------------------------------------------------------


class TestChangePage:
    def test_conflicts_in_first_to_file_order_with_reasons(self, acme, submit_as, rival):
        with acme.scope():
            third_member = factories.make_member(
                acme.tenant,
                Role.PARTNER_USER,
                partner=factories.make_partner(acme.tenant, "Third Reseller"),
            )
            DirectOpportunity.objects.create(
                tenant=acme.tenant,
                external_id="CRM-7",
                customer_name="Initech",
                customer_name_normalized="initech",
                customer_domain="initech.example",
            )
        earlier = submit_as(acme, member=rival, customer_name="Initech Corp")
        first = submit_as(acme, member=third_member, customer_name="Initech")
        later = submit_as(acme)  # Initech Corporation, initech.example, Firewall
        response = acme.client("ops_admin").get(change_url(later))
        rows = response.context["conflict_rows"]
        kinds = [
            row["opportunity"].external_id if row["opportunity"] else row["other"].code
            for row in rows
        ]
        assert kinds == ["CRM-7", earlier.code, first.code]
        reasons = rows[1]["conflict"].reasons
        assert reasons[0] == "same domain"
        assert reasons[-1] == "shared product: Firewall"
        html = response.content.decode()
        assert "same domain" in html
        assert "shared product: Firewall" in html
        assert "before this one" in html
        assert html.index("CRM-7") < html.index(earlier.code) < html.index(first.code)
        # The earlier registration sees the later ones, stored on their side.
        rows = acme.client("ops_admin").get(change_url(earlier)).context["conflict_rows"]
        assert [row["other"].code for row in rows if row["other"]] == [first.code, later.code]

    def test_name_similarity_is_a_reason(self, acme, submit_as, rival):
        submit_as(acme, member=rival, customer_name="Globochem Industries", customer_domain="")
        later = submit_as(acme, customer_name="Globochem Industry", customer_domain="")
        rows = acme.client("ops_admin").get(change_url(later)).context["conflict_rows"]
        assert len(rows) == 1
        assert re.fullmatch(r"name 0\.\d\d similar", rows[0]["conflict"].reasons[0])

    def test_a_pair_checked_from_both_ends_is_shown_once(self, acme, submit_as, rival):
        first = submit_as(acme)
        second = submit_as(acme, member=rival, customer_name="Initech Corp.")
        with acme.scope():
            services.approve(first, by=acme[Role.OPS_ADMIN])
        rows = acme.client("ops_admin").get(change_url(second)).context["conflict_rows"]
        assert [row["other"].code for row in rows] == [first.code]

    def test_timeline_shows_events_and_messages(self, acme, submit_as):
        registration = submit_as(acme)
        with acme.scope():
            services.add_message(registration, by=acme[Role.PARTNER_USER], text="Any news?")
        response = acme.client("ops_admin").get(change_url(registration))
        kinds = {e.kind for e in response.context["events"]}
        assert {Kind.SUBMITTED, Kind.ASSIGNED, Kind.MESSAGE} <= kinds
        html = response.content.decode()
        assert "Any news?" in html
        assert "internal" in html  # the assignment is not shown to the partner

    def test_approve(self, acme, submit_as):
        registration = submit_as(acme)
        response = act(acme.client("channel_manager"), registration, "approve", reason="Welcome")
        assert response.status_code == 302
        assert response["Location"] == change_url(registration)
        registration = fresh(acme, registration)
        assert registration.status == Status.APPROVED
        assert registration.decided_by == acme[Role.CHANNEL_MANAGER].user
        assert registration.decision_reason == "Welcome"
        assert any("approved: protected until" in m for m in messages_of(response))
        with acme.scope():
            assert Notification.objects.filter(
                user=acme[Role.PARTNER_USER].user, kind="dealreg.approved"
            ).exists()

    def test_approving_over_an_approved_conflict_needs_an_override_reason(
        self, acme, submit_as, rival
    ):
        first = submit_as(acme)
        second = submit_as(acme, member=rival, customer_name="Initech Corp.")
        with acme.scope():
            services.approve(first, by=acme[Role.OPS_ADMIN])
        client = acme.client("ops_admin")
        page = client.get(change_url(second))
        assert page.context["needs_override"] is True
        assert 'name="approve-override_reason"' in page.content.decode()
        response = act(client, second, "approve", reason="ok")
        assert response.status_code == 200
        form = response.context["forms"]["approve"]
        assert "Give a reason to approve it anyway" in form.errors["override_reason"][0]
        assert first.code in form.errors["override_reason"][0]
        assert "errorlist" in response.content.decode()
        assert fresh(acme, second).status == Status.SUBMITTED
        response = act(client, second, "approve", reason="ok", override_reason="Other division")
        assert response.status_code == 302
        assert fresh(acme, second).status == Status.APPROVED
        with acme.scope():
            event = RegistrationEvent.objects.get(registration=second, kind=Kind.APPROVED)
        assert event.data["override_reason"] == "Other division"

    def test_reject_needs_a_reason(self, acme, submit_as):
        registration = submit_as(acme)
        client = acme.client("channel_manager")
        response = act(client, registration, "reject", reason="  ")
        assert response.status_code == 200
        assert response.context["forms"]["reject"].errors["reason"]
        assert fresh(acme, registration).status == Status.SUBMITTED
        assert act(client, registration, "reject", reason="Customer is ours").status_code == 302
        registration = fresh(acme, registration)
        assert registration.status == Status.REJECTED
        assert registration.decision_reason == "Customer is ours"

    def test_request_info_pauses_the_clock(self, acme, submit_as):
        registration = submit_as(acme)
        client = acme.client("channel_manager")
        response = act(client, registration, "request_info", message="Which sites?")
        assert response.status_code == 302
        registration = fresh(acme, registration)
        assert registration.status == Status.MORE_INFO
        assert registration.sla_paused_at is not None
        page = client.get(change_url(registration))
        assert "request_info" not in page.context["forms"]  # already waiting
        assert "dr-sla-paused" in page.content.decode()
        # A second request is refused by the service, shown on the form.
        response = act(client, registration, "request_info", message="Again?")
        assert response.status_code == 200
        assert "cannot be sent back" in str(response.context["forms"]["request_info"].errors)

    def test_a_decision_on_a_decided_registration_is_a_form_error(self, acme, submit_as):
        registration = submit_as(acme)
        client = acme.client("ops_admin")
        assert act(client, registration, "approve").status_code == 302
        response = act(client, registration, "reject", reason="too late")
        assert response.status_code == 200
        assert "cannot be rejected" in str(response.context["forms"]["reject"].non_field_errors())
        assert fresh(acme, registration).status == Status.APPROVED

    def test_message_to_the_partner(self, acme, submit_as):
        registration = submit_as(acme)
        response = act(acme.client("channel_manager"), registration, "message", text="Call me")
        assert response.status_code == 302
        with acme.scope():
            event = RegistrationEvent.objects.get(registration=registration, kind=Kind.MESSAGE)
            assert event.actor == acme[Role.CHANNEL_MANAGER].user
            assert Notification.objects.filter(
                user=acme[Role.PARTNER_USER].user, kind="dealreg.message"
            ).exists()
        response = act(acme.client("channel_manager"), registration, "message", text=" ")
        assert response.status_code == 200
        assert response.context["forms"]["message"].errors["text"]


class TestReassign:
    def test_ops_reassign_and_it_is_recorded(self, acme, submit_as, second_cm):
        registration = submit_as(acme)
        client = acme.client("ops_admin")
        page = client.get(change_url(registration))
        choices = page.context["forms"]["reassign"].fields["approver"].queryset
        assert second_cm.user in choices
        assert acme[Role.CHANNEL_MANAGER].user not in choices  # the current approver
        assert acme[Role.PARTNER_USER].user not in choices
        response = act(
            client, registration, "reassign", approver=str(second_cm.user.pk), reason="Holiday"
        )
        assert response.status_code == 302
        assert fresh(acme, registration).approver == second_cm.user
        with acme.scope():
            event = RegistrationEvent.objects.get(registration=registration, kind=Kind.REASSIGNED)
            assert event.data == {"from": "channel.manager@acme.test", "to": "cm2@acme.test"}
            assert event.message == "Holiday"
            assert AuditEntry.objects.filter(
                action="dealreg.reassigned", object_id=str(registration.pk)
            ).exists()
            assert Notification.objects.filter(
                user=second_cm.user, kind="dealreg.assigned"
            ).exists()

    def test_only_approvers_of_this_tenant_can_be_chosen(self, acme, globex, submit_as):
        registration = submit_as(acme)
        client = acme.client("ops_admin")
        for user in (acme[Role.PARTNER_USER].user, globex[Role.CHANNEL_MANAGER].user):
            response = act(client, registration, "reassign", approver=str(user.pk))
            assert response.status_code == 200
            assert response.context["forms"]["reassign"].errors["approver"]
        assert fresh(acme, registration).approver == acme[Role.CHANNEL_MANAGER].user

    def test_channel_managers_do_not_reassign(self, acme, submit_as, second_cm):
        registration = submit_as(acme)
        client = acme.client("channel_manager")
        assert "reassign" not in client.get(change_url(registration)).context["forms"]
        response = act(client, registration, "reassign", approver=str(second_cm.user.pk))
        assert response.status_code == 403
        assert fresh(acme, registration).approver == acme[Role.CHANNEL_MANAGER].user


class TestExtensions:
    @pytest.fixture
    def extension(self, acme, submit_as):
        registration = submit_as(acme)
        with acme.scope():
            registration = services.approve(registration, by=acme[Role.OPS_ADMIN])
            return services.request_extension(
                registration, by=acme[Role.PARTNER_USER], reason="Customer delayed budget"
            )

    def post(self, client, extension, decision, reason=""):
        return client.post(
            change_url(extension.registration),
            {
                "_action": "extension",
                "extension-extension": str(extension.pk),
                "extension-decision": decision,
                "extension-reason": reason,
            },
        )

    def test_the_page_shows_the_request_and_the_decision_form(self, acme, extension):
        response = acme.client("channel_manager").get(change_url(extension.registration))
        assert response.context["pending_extension"] == extension
        html = response.content.decode()
        assert "Customer delayed budget" in html
        assert 'value="approve"' in html and 'value="reject"' in html

    def test_approve_extends_protection(self, acme, extension):
        before = fresh(acme, extension.registration).protected_until
        response = self.post(acme.client("channel_manager"), extension, "approve")
        assert response.status_code == 302
        registration = fresh(acme, extension.registration)
        assert registration.protected_until == before + timedelta(days=extension.days)
        assert registration.extension_count == 1
        with acme.scope():
            assert ExtensionRequest.objects.get(pk=extension.pk).status == "approved"

    def test_refusal_needs_a_reason(self, acme, extension):
        client = acme.client("channel_manager")
        response = self.post(client, extension, "reject")
        assert response.status_code == 200
        assert response.context["forms"]["extension"].errors["reason"]
        assert self.post(client, extension, "reject", "No progress").status_code == 302
        with acme.scope():
            refused = ExtensionRequest.objects.get(pk=extension.pk)
        assert refused.status == "rejected"
        assert refused.decision_reason == "No progress"

    def test_only_deciders(self, acme, extension, second_cm):
        for client in (acme.client("executive"), client_for(acme, second_cm)):
            assert self.post(client, extension, "approve").status_code == 403
        with acme.scope():
            assert ExtensionRequest.objects.get(pk=extension.pk).status == "pending"

    def test_another_registrations_extension_is_404(self, acme, extension, submit_as):
        other = submit_as(acme, customer_name="Else", customer_domain="else.example")
        response = acme.client("ops_admin").post(
            change_url(other),
            {
                "_action": "extension",
                "extension-extension": str(extension.pk),
                "extension-decision": "approve",
            },
        )
        assert response.status_code == 404
        with acme.scope():
            assert ExtensionRequest.objects.get(pk=extension.pk).status == "pending"


# --- Bulk decisions ------------------------------------------------------------------


def bulk(client, action: str, registrations, **extra):
    data = {
        "action": action,
        "_selected_action": [str(r.pk) for r in registrations],
        **extra,
    }
    if "confirm" not in extra:
        data["index"] = "0"
    return client.post(CHANGELIST, data)


class TestBulk:
    def test_approve_asks_then_approves_what_may_be_approved(self, acme, submit_as, rival):
        first = submit_as(acme)
        plain = submit_as(acme, customer_name="Plain Co", customer_domain="plain.example")
        clashing = submit_as(acme, member=rival, customer_name="Initech Corp.")
        client = acme.client("ops_admin")
        page = bulk(client, "approve_selected", [first, plain, clashing])
        assert page.status_code == 200
        assert page.context["decidable_count"] == 3
        assert fresh(acme, first).status == Status.SUBMITTED  # nothing yet
        response = bulk(
            client, "approve_selected", [first, plain, clashing], confirm="1", reason="Batch"
        )
        assert response.status_code == 302
        assert fresh(acme, first).status == Status.APPROVED
        assert fresh(acme, plain).status == Status.APPROVED
        # Filed later and conflicting with the now approved first: left for
        # a decision with an override reason on its own page.
        assert fresh(acme, clashing).status == Status.SUBMITTED
        notes = messages_of(response)
        assert any(f"{clashing.code}: it conflicts with an approved" in m for m in notes)
        assert any(m.startswith("Approved 2 registrations") for m in notes)

    def test_reject_needs_a_reason(self, acme, submit_as):
        registration = submit_as(acme)
        client = acme.client("ops_admin")
        response = bulk(client, "reject_selected", [registration], confirm="1", reason="")
        assert response.status_code == 200
        assert response.context["form"].errors["reason"]
        assert "a rejected registration cannot be reopened" in response.content.decode()
        assert fresh(acme, registration).status == Status.SUBMITTED
        response = bulk(client, "reject_selected", [registration], confirm="1", reason="Dupes")
        assert response.status_code == 302
        registration = fresh(acme, registration)
        assert registration.status == Status.REJECTED
        assert registration.decision_reason == "Dupes"

    def test_a_channel_manager_decides_only_their_own_in_bulk(
        self, acme, submit_as, rival, second_cm
    ):
        mine = submit_as(acme)
        theirs = submit_as(
            acme, member=rival, customer_name="Umbrella", customer_domain="u.example"
        )
        client = acme.client("channel_manager")
        page = bulk(client, "reject_selected", [mine, theirs])
        assert [r["decidable"] for r in page.context["rows"]] == [True, False]
        assert "not yours to decide" in page.content.decode()
        response = bulk(client, "reject_selected", [mine, theirs], confirm="1", reason="No")
        assert fresh(acme, mine).status == Status.REJECTED
        assert fresh(acme, theirs).status == Status.SUBMITTED
        assert f"{theirs.code}: you may not decide it." in messages_of(response)

    @pytest.mark.parametrize("role", ["finance", "executive"])
    def test_viewers_have_no_bulk_actions(self, acme, submit_as, role):
        registration = submit_as(acme)
        response = bulk(
            acme.client(role), "approve_selected", [registration], confirm="1", reason="x"
        )
        assert response.status_code in {200, 302}
        assert fresh(acme, registration).status == Status.SUBMITTED

    def test_another_tenants_ids_are_ignored(self, acme, globex, submit_as):
        registration = submit_as(acme)
        response = bulk(
            globex.client("ops_admin"), "reject_selected", [registration], confirm="1", reason="x"
        )
        assert response.status_code in {200, 302}
        assert fresh(acme, registration).status == Status.SUBMITTED

    def test_decided_ones_are_left_alone(self, acme, submit_as):
        registration = submit_as(acme)
        with acme.scope():
            services.reject(registration, by=acme[Role.OPS_ADMIN], reason="No")
        response = bulk(
            acme.client("ops_admin"), "approve_selected", [registration], confirm="1", reason=""
        )
        assert fresh(acme, registration).status == Status.REJECTED
        assert any("left as it is" in m for m in messages_of(response))


class TestPages:
    def test_no_inline_scripts_and_the_stylesheet_is_linked(self, acme, submit_as):
        registration = submit_as(acme)
        client = acme.client("ops_admin")
        for url in (CHANGELIST, change_url(registration), history_url(registration)):
            response = client.get(url)
            html = response.content.decode()
            scripts = re.findall(r"<script[^>]*>", html)
            assert scripts and all("src=" in tag for tag in scripts), url
            assert "script-src 'self'" in response["Content-Security-Policy"]
        html = client.get(change_url(registration)).content.decode()
        assert 'href="/static/admin/dealreg.css"' in html
        assert client.get("/static/admin/dealreg.css").status_code == 200
        page = bulk(client, "approve_selected", [registration])
        assert 'href="/static/admin/dealreg.css"' in page.content.decode()


class TestHistory:
    def test_history_lists_the_timeline_and_the_audit(self, acme, submit_as):
        registration = submit_as(acme)
        with acme.scope():
            services.approve(registration, by=acme[Role.OPS_ADMIN], reason="Fine")
        response = acme.client("executive").get(history_url(registration))
        assert response.status_code == 200
        html = response.content.decode()
        assert "Approved" in html
        assert "dealreg.approved" in html
