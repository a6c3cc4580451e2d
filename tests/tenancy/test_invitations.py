"""Inviting people, the invitation mail, and accepting an invitation; plus
the invitation mail sent by a real Celery worker over Redis."""

import queue
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.db import connections
from django.test import Client
from django.utils import timezone
from django_scopes import get_scope

from prm.celery import app as celery_app
from prm.tenancy import services, tasks
from prm.tenancy.models import AuditEntry, Invitation, Membership, TenantDomain, User
from prm.tenancy.roles import PARTNER_ROLES, Role
from tests import factories

LINK_RE = re.compile(r"(http://\S+/invitations/(\S+)/)")


def post_invite(client: Client, data: dict, capture):
    with capture(execute=True) as callbacks:
        response = client.post("/people/invite/", data)
    return response, callbacks


def open_invitations(world):
    with world.scope():
        return list(
            Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True).order_by(
                "created_at"
            )
        )


def invite(world, email="new.person@example.test", role=Role.FINANCE, partner=None, by=None):
    with world.scope():
        return services.invite(
            tenant=world.tenant,
            by=by or world["ops_admin"],
            email=email,
            role=role,
            partner=partner,
        )


@pytest.mark.django_db
class TestOpsInvites:
    def test_ops_invites_staff_and_the_mail_goes_out_on_commit(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        client = acme.client("ops_admin")
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = client.post(
                "/people/invite/", {"email": " New.Person@Example.test ", "role": "finance"}
            )
        assert response.status_code == 302
        assert response["Location"] == "/people/"
        # Nothing is mailed before the transaction commits.
        assert len(callbacks) == 1
        assert mailoutbox == []
        callbacks[0]()
        assert len(mailoutbox) == 1

        [invitation] = open_invitations(acme)
        assert invitation.email == "new.person@example.test"
        assert invitation.role == Role.FINANCE
        assert invitation.partner is None
        assert invitation.invited_by == acme["ops_admin"].user
        with acme.scope():
            assert AuditEntry.objects.filter(
                action="invitation.sent", object_id=str(invitation.pk)
            ).exists()

        message = mailoutbox[0]
        assert message.to == ["new.person@example.test"]
        assert message.subject == "[Acme Corp] You are invited to the partner portal"
        url, token = LINK_RE.search(message.body).groups()
        assert url.startswith("http://acme.localhost/invitations/")
        assert Invitation.hash_token(token) == invitation.token_hash
        assert "as finance" in message.body
        page = client.get("/people/")
        assert "Invitation sent to new.person@example.test." in page.content.decode()

    def test_ops_invites_a_partner_role_with_its_partner(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        response, _ = post_invite(
            acme.client("ops_admin"),
            {"email": "pa@example.test", "role": "partner_admin", "partner": acme.partner.pk},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 302
        [invitation] = open_invitations(acme)
        assert invitation.role == Role.PARTNER_ADMIN
        assert invitation.partner == acme.partner
        assert f"partner admin of {acme.partner.name}" in mailoutbox[0].body

    @pytest.mark.parametrize("role", sorted(PARTNER_ROLES))
    def test_partner_role_needs_a_partner(
        self, acme, role, mailoutbox, django_capture_on_commit_callbacks
    ):
        response, callbacks = post_invite(
            acme.client("ops_admin"),
            {"email": "pa@example.test", "role": role},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 400
        assert response.context["form"].errors == {
            "partner": ["Choose the partner organisation this person works for."]
        }
        assert "Choose the partner organisation" in response.content.decode()
        assert open_invitations(acme) == []
        assert callbacks == []
        assert mailoutbox == []

    def test_staff_role_with_a_partner_is_a_field_error(
        self, acme, django_capture_on_commit_callbacks
    ):
        response, _ = post_invite(
            acme.client("ops_admin"),
            {"email": "cm@example.test", "role": "channel_manager", "partner": acme.partner.pk},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 400
        assert list(response.context["form"].errors) == ["partner"]
        assert open_invitations(acme) == []

    def test_role_must_be_chosen(self, acme, django_capture_on_commit_callbacks):
        response = acme.client("ops_admin").get("/people/")
        assert "selected>Choose a role</option>" in response.content.decode()
        response, _ = post_invite(
            acme.client("ops_admin"),
            {"email": "who@example.test", "role": ""},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 400
        assert response.context["form"].errors == {"role": ["This field is required."]}
        assert open_invitations(acme) == []

    def test_bad_email_and_unknown_role_are_field_errors(
        self, acme, django_capture_on_commit_callbacks
    ):
        response, _ = post_invite(
            acme.client("ops_admin"),
            {"email": "not-an-email", "role": "wizard"},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 400
        assert set(response.context["form"].errors) == {"email", "role"}
        assert open_invitations(acme) == []

    def test_partner_of_another_tenant_is_not_a_choice(
        self, acme, globex, django_capture_on_commit_callbacks
    ):
        response, _ = post_invite(
            acme.client("ops_admin"),
            {"email": "pa@example.test", "role": "partner_user", "partner": globex.partner.pk},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 400
        assert list(response.context["form"].errors) == ["partner"]
        assert open_invitations(acme) == []

    def test_inviting_an_active_member_is_refused(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        email = acme["finance"].user.email
        response, _ = post_invite(
            acme.client("ops_admin"),
            {"email": email.upper(), "role": "executive"},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 400
        assert response.context["form"].errors == {
            "email": [f"{email} is already a member of Acme Corp."]
        }
        assert open_invitations(acme) == []
        assert mailoutbox == []

    def test_member_of_another_tenant_or_a_deactivated_member_can_be_invited(
        self, acme, globex, django_capture_on_commit_callbacks
    ):
        with acme.scope():
            acme["finance"].is_active = False
            acme["finance"].save()
        client = acme.client("ops_admin")
        for email in (globex["ops_admin"].user.email, acme["finance"].user.email):
            response, _ = post_invite(
                client, {"email": email, "role": "executive"}, django_capture_on_commit_callbacks
            )
            assert response.status_code == 302
        assert len(open_invitations(acme)) == 2

    def test_reinviting_replaces_the_open_invitation(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        client = acme.client("ops_admin")
        for role in ("finance", "executive"):
            response, _ = post_invite(
                client,
                {"email": "twice@example.test", "role": role},
                django_capture_on_commit_callbacks,
            )
            assert response.status_code == 302
        [invitation] = open_invitations(acme)
        assert invitation.role == Role.EXECUTIVE
        with acme.scope():
            assert Invitation.objects.filter(email="twice@example.test").count() == 2
        first_token = LINK_RE.search(mailoutbox[0].body).group(2)
        second_token = LINK_RE.search(mailoutbox[1].body).group(2)
        anonymous = Client(HTTP_HOST=acme.host)
        assert anonymous.get(f"/invitations/{first_token}/").status_code == 404
        assert anonymous.get(f"/invitations/{second_token}/").status_code == 200

    def test_people_page_shows_open_invitations(self, acme):
        invite(acme, email="open@example.test")
        response = acme.client("ops_admin").get("/people/")
        assert response.status_code == 200
        assert [i.email for i in response.context["invitations"]] == ["open@example.test"]


@pytest.mark.django_db
class TestPartnerAdminInvites:
    def test_only_partner_roles_are_offered_and_no_partner_field(self, acme):
        response = acme.client("partner_admin").get("/people/")
        form = response.context["form"]
        assert [value for value, _label in form.fields["role"].choices] == [
            "",
            "partner_admin",
            "partner_user",
        ]
        assert "partner" not in form.fields

    def test_invites_a_colleague_into_their_own_organisation(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        response, _ = post_invite(
            acme.client("partner_admin"),
            # A partner posted by hand is ignored: it is always their own.
            {
                "email": "colleague@example.test",
                "role": "partner_user",
                "partner": acme.other_partner.pk,
            },
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 302
        [invitation] = open_invitations(acme)
        assert invitation.partner == acme.partner
        assert invitation.role == Role.PARTNER_USER
        assert len(mailoutbox) == 1

    @pytest.mark.parametrize("role", ["ops_admin", "channel_manager", "finance", "executive"])
    def test_staff_roles_are_refused(
        self, acme, role, mailoutbox, django_capture_on_commit_callbacks
    ):
        response, callbacks = post_invite(
            acme.client("partner_admin"),
            {"email": "boss@example.test", "role": role},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 400
        assert list(response.context["form"].errors) == ["role"]
        assert open_invitations(acme) == []
        assert callbacks == []
        assert mailoutbox == []

    def test_service_refuses_staff_roles_too(self, acme):
        with pytest.raises(services.TenancyError):
            invite(acme, role=Role.OPS_ADMIN, by=acme["partner_admin"])
        assert open_invitations(acme) == []

    def test_cannot_replace_an_invitation_sent_by_ops(
        self, acme, django_capture_on_commit_callbacks
    ):
        invite(acme, email="wanted@example.test", role=Role.EXECUTIVE)
        response, _ = post_invite(
            acme.client("partner_admin"),
            {"email": "wanted@example.test", "role": "partner_user"},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 400
        assert "already has an open invitation" in response.context["form"].errors["email"][0]
        [invitation] = open_invitations(acme)
        assert invitation.role == Role.EXECUTIVE


@pytest.mark.django_db
class TestInvitationMail:
    def test_mail_is_plain_text_and_uses_the_primary_custom_domain(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        acme.tenant.name = "Smith & O'Neil"
        acme.tenant.save()
        TenantDomain.objects.create(
            tenant=acme.tenant, host="partners.smith-oneil.test", is_primary=True
        )
        with django_capture_on_commit_callbacks(execute=True):
            _invitation, token = invite(acme, role=Role.PARTNER_USER, partner=acme.partner)
        body = mailoutbox[0].body
        assert "the Smith & O'Neil partner portal" in body
        assert "&amp;" not in body and "&#x27;" not in body
        assert f"http://partners.smith-oneil.test/invitations/{token}/" in body

    def test_expiry_date_is_in_the_tenants_time_zone(
        self, acme, mailoutbox, django_capture_on_commit_callbacks
    ):
        acme.tenant.timezone = "America/Los_Angeles"
        acme.tenant.save()
        with (
            time_machine.travel(datetime(2026, 5, 1, 3, 0, tzinfo=UTC), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            invite(acme)  # expires 2026-05-15 03:00 UTC, the evening before in LA
        assert "expires on 14 May 2026." in mailoutbox[0].body

    def test_no_mail_for_an_invitation_revoked_before_the_task_ran(self, acme, mailoutbox):
        invitation, token = invite(acme)  # on_commit callbacks are not run here
        with acme.scope():
            services.revoke_invitation(invitation, by=acme["ops_admin"])
        sent = tasks.send_invitation.delay(
            tenant_id=str(acme.tenant.pk), invitation_id=str(invitation.pk), token=token
        )
        assert sent.get() is False
        assert mailoutbox == []


def accept_url(token: str) -> str:
    return f"/invitations/{token}/"


NEW_PASSWORD = "a-fresh-strong-passphrase-42"


@pytest.mark.django_db
class TestAcceptInvitation:
    def test_new_person_sets_a_password_and_is_logged_in(self, acme):
        invitation, token = invite(
            acme, email="newbie@example.test", role=Role.PARTNER_USER, partner=acme.partner
        )
        client = Client(HTTP_HOST=acme.host)
        page = client.get(accept_url(token))
        assert page.status_code == 200
        text = page.content.decode()
        assert "newbie@example.test" in text
        assert acme.partner.name in text
        assert "password_confirm" in page.context["form"].fields

        response = client.post(
            accept_url(token),
            {
                "full_name": "Nee Wbie",
                "password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD,
            },
        )
        assert response.status_code == 302
        assert response["Location"] == "/"
        user = User.objects.get(email="newbie@example.test")
        assert user.full_name == "Nee Wbie"
        assert user.check_password(NEW_PASSWORD)
        assert EmailAddress.objects.filter(
            user=user, email="newbie@example.test", verified=True, primary=True
        ).exists()
        with acme.scope():
            membership = Membership.objects.get(user=user)
            invitation.refresh_from_db()
        assert (membership.role, membership.partner, membership.is_active) == (
            Role.PARTNER_USER,
            acme.partner,
            True,
        )
        assert invitation.status() == "accepted"
        assert invitation.accepted_by == user
        assert client.session["_auth_user_id"] == str(user.pk)
        home = client.get("/")
        assert home.status_code == 200
        assert "Welcome to Acme Corp." in home.content.decode()
        # And the password works through the login form too.
        fresh = Client(HTTP_HOST=acme.host)
        login = fresh.post(
            "/accounts/login/", {"login": "newbie@example.test", "password": NEW_PASSWORD}
        )
        assert login.status_code == 302

    def test_mismatched_passwords_are_a_field_error(self, acme):
        _invitation, token = invite(acme, email="newbie@example.test")
        client = Client(HTTP_HOST=acme.host)
        response = client.post(
            accept_url(token),
            {"full_name": "N", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"},
        )
        assert response.status_code == 400
        assert response.context["form"].errors == {
            "password_confirm": ["The two passwords differ."]
        }
        assert not User.objects.filter(email="newbie@example.test").exists()
        assert "_auth_user_id" not in client.session

    @pytest.mark.parametrize(
        "password", ["short1", "1234567890123", "password123", "newbie@example.test"]
    )
    def test_weak_password_is_refused(self, acme, password):
        _invitation, token = invite(acme, email="newbie@example.test")
        response = Client(HTTP_HOST=acme.host).post(
            accept_url(token),
            {"full_name": "Nee Wbie", "password": password, "password_confirm": password},
        )
        assert response.status_code == 400
        assert list(response.context["form"].errors) == ["password"]
        assert not User.objects.filter(email="newbie@example.test").exists()
        assert not EmailAddress.objects.filter(email="newbie@example.test").exists()
        assert open_invitations(acme)  # still open

    def test_link_works_once(self, acme):
        _invitation, token = invite(acme, email="newbie@example.test")
        data = {"full_name": "N W", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
        assert Client(HTTP_HOST=acme.host).post(accept_url(token), data).status_code == 302
        other = Client(HTTP_HOST=acme.host)
        response = other.get(accept_url(token))
        assert response.status_code == 404
        assert "tenancy/invitation_invalid.html" in [t.name for t in response.templates]
        response = other.post(accept_url(token), {**data, "password": "another-pass-1234"})
        assert response.status_code == 404
        assert User.objects.get(email="newbie@example.test").check_password(NEW_PASSWORD)

    def test_revoked_link_is_invalid(self, acme):
        invitation, token = invite(acme)
        with acme.scope():
            services.revoke_invitation(invitation, by=acme["ops_admin"])
        response = Client(HTTP_HOST=acme.host).get(accept_url(token))
        assert response.status_code == 404
        assert b"This invitation link is not valid" in response.content

    def test_expired_link_is_invalid(self, acme):
        _invitation, token = invite(acme)
        client = Client(HTTP_HOST=acme.host)
        with time_machine.travel(timezone.now() + timedelta(days=13, hours=23)):
            assert client.get(accept_url(token)).status_code == 200
        with time_machine.travel(timezone.now() + timedelta(days=14, minutes=1)):
            response = client.get(accept_url(token))
            assert response.status_code == 404
            assert b"This invitation link is not valid" in response.content

    def test_unknown_token_and_other_tenants_token_are_invalid(self, acme, globex):
        _invitation, token = invite(acme)
        assert Client(HTTP_HOST=acme.host).get(accept_url("nope")).status_code == 404
        assert Client(HTTP_HOST=globex.host).get(accept_url(token)).status_code == 404

    def test_person_from_another_tenant_accepts_with_their_password(self, acme, globex):
        user = globex["ops_admin"].user
        invitation, token = invite(acme, email=user.email, role=Role.EXECUTIVE)
        client = Client(HTTP_HOST=acme.host)
        page = client.get(accept_url(token))
        assert page.status_code == 200
        assert "password_confirm" not in page.context["form"].fields

        wrong = client.post(accept_url(token), {"password": "not-my-password-1"})
        assert wrong.status_code == 400
        assert "enter its current password" in wrong.context["form"].errors["password"][0]
        with acme.scope():
            assert not Membership.objects.filter(user=user).exists()
        assert open_invitations(acme) == [invitation]
        assert "_auth_user_id" not in client.session

        right = client.post(accept_url(token), {"password": factories.PASSWORD})
        assert right.status_code == 302
        with acme.scope():
            assert Membership.objects.get(user=user).role == Role.EXECUTIVE
        with globex.scope():
            assert Membership.objects.get(user=user).role == Role.OPS_ADMIN
        user.refresh_from_db()
        assert user.check_password(factories.PASSWORD)
        assert client.get("/").context["membership"].role == Role.EXECUTIVE

    def test_guessing_an_existing_accounts_password_is_rate_limited(self, acme, globex):
        user = globex["ops_admin"].user
        _invitation, token = invite(acme, email=user.email, role=Role.EXECUTIVE)
        client = Client(HTTP_HOST=acme.host)
        for attempt in range(5):
            response = client.post(accept_url(token), {"password": f"guess-{attempt}"})
            assert "enter its current password" in response.context["form"].errors["password"][0]
        response = client.post(accept_url(token), {"password": factories.PASSWORD})
        assert response.status_code == 400
        (error,) = response.context["form"].errors["password"]
        assert error.startswith("Too many failed sign-in attempts. Try again in 5 minutes (after ")
        with acme.scope():
            assert not Membership.objects.filter(user=user).exists()

    def test_deactivated_member_is_reactivated_with_the_new_role(self, acme):
        membership = acme["finance"]
        with acme.scope():
            membership.is_active = False
            membership.save()
        _invitation, token = invite(acme, email=membership.user.email, role=Role.EXECUTIVE)
        response = Client(HTTP_HOST=acme.host).post(
            accept_url(token), {"password": factories.PASSWORD}
        )
        assert response.status_code == 302
        with acme.scope():
            membership.refresh_from_db()
        assert (membership.is_active, membership.role) == (True, Role.EXECUTIVE)

    def test_signed_in_member_opening_a_link_is_sent_home(self, acme):
        _invitation, token = invite(acme)
        response = acme.client("partner_user").get(accept_url(token))
        assert response.status_code == 302
        assert response["Location"] == "/"
        assert open_invitations(acme)  # untouched


# -- A real Celery worker over the Redis broker ------------------------------


@pytest.fixture
def celery_worker_live(transactional_db):
    """An in-process worker consuming from the test Redis broker; tasks are
    not eager while it runs. Yields a queue of (task name, state, result)."""
    finished: queue.Queue = queue.Queue()

    def on_postrun(sender=None, task=None, retval=None, state=None, **kwargs):
        # The worker thread's own database connection must not outlive the test.
        connections.close_all()
        # Saving the fixtures' partners kicks reporting's rollup refresh
        # after commit; these tests wait for their own tasks.
        if task.name != "reporting.tasks.refresh_stale":
            finished.put((task.name, state, retval))

    saved = {
        "task_always_eager": celery_app.conf.task_always_eager,
        "worker_hijack_root_logger": celery_app.conf.worker_hijack_root_logger,
    }
    celery_app.conf.task_always_eager = False
    celery_app.conf.worker_hijack_root_logger = False  # leave pytest's log capture alone
    task_postrun.connect(on_postrun, weak=False)
    try:
        celery_app.control.purge()  # nothing left over from an earlier, aborted run
        with start_worker(celery_app, perform_ping_check=False, pool="solo"):
            yield finished
    finally:
        task_postrun.disconnect(on_postrun)
        for key, value in saved.items():
            setattr(celery_app.conf, key, value)


@pytest.fixture
def scope_spy(monkeypatch):
    """Record the scope and thread ``send_mail`` runs in."""
    seen = []
    real_send_mail = tasks.send_mail

    def spy(*args, **kwargs):
        seen.append((dict(get_scope()), threading.current_thread()))
        return real_send_mail(*args, **kwargs)

    monkeypatch.setattr(tasks, "send_mail", spy)
    return seen


class TestInvitationWorker:
    def test_worker_sends_the_mail_inside_the_tenant_scope(
        self, celery_worker_live, scope_spy, acme
    ):
        mail.outbox.clear()
        with acme.scope():
            token, token_hash = Invitation.new_token()
            invitation = Invitation.objects.create(
                tenant=acme.tenant,
                email="worker@example.test",
                role=Role.FINANCE,
                token_hash=token_hash,
                invited_by=acme["ops_admin"].user,
            )
        tasks.send_invitation.delay(
            tenant_id=str(acme.tenant.pk), invitation_id=str(invitation.pk), token=token
        )
        name, state, result = celery_worker_live.get(timeout=20)
        assert (name, state, result) == (tasks.send_invitation.name, "SUCCESS", True)
        [(scope, thread)] = scope_spy
        assert scope["tenant"] == acme.tenant
        assert thread is not threading.current_thread()  # it went through the broker
        [message] = mail.outbox
        assert message.to == ["worker@example.test"]
        assert f"http://acme.localhost/invitations/{token}/" in message.body

    def test_invite_service_mails_through_the_worker(self, celery_worker_live, acme):
        mail.outbox.clear()
        _invitation, token = invite(acme, email="svc@example.test")  # commits: real on_commit
        assert celery_worker_live.get(timeout=20)[1:] == ("SUCCESS", True)
        [message] = mail.outbox
        assert f"/invitations/{token}/" in message.body

    def test_task_for_a_deactivated_tenant_does_nothing(self, celery_worker_live, scope_spy, acme):
        mail.outbox.clear()
        with acme.scope():
            token, token_hash = Invitation.new_token()
            invitation = Invitation.objects.create(
                tenant=acme.tenant,
                email="late@example.test",
                role=Role.FINANCE,
                token_hash=token_hash,
                invited_by=acme["ops_admin"].user,
            )
        acme.tenant.is_active = False
        acme.tenant.save()
        tasks.send_invitation.delay(
            tenant_id=str(acme.tenant.pk), invitation_id=str(invitation.pk), token=token
        )
        assert celery_worker_live.get(timeout=20) == (
            tasks.send_invitation.name,
            "SUCCESS",
            None,
        )
        assert scope_spy == []
        assert mail.outbox == []
