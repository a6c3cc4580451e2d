"""Logging in through the real allauth form: the host decides which
membership counts, sessions end with the membership, sign-up is closed,
and tenants may require staff to use an authenticator app."""

import pytest
from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal import auth as totp_auth
from django.test import Client
from django.urls import reverse

from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from tests import factories

LOGIN_URL = "/accounts/login/"
INCORRECT = str(DefaultAccountAdapter.error_messages["email_password_mismatch"])


def log_in(host: str, email: str, password: str = factories.PASSWORD) -> tuple[Client, object]:
    client = Client(HTTP_HOST=host)
    response = client.post(LOGIN_URL, {"login": email, "password": password})
    return client, response


def assert_refused(client: Client, response) -> None:
    assert response.status_code == 200
    assert INCORRECT in response.context["form"].non_field_errors()
    assert INCORRECT in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
class TestTenantLogin:
    def test_partner_user_logs_in_on_their_tenant(self, acme):
        email = acme["partner_user"].user.email
        client, response = log_in(acme.host, email)
        assert response.status_code == 302
        assert response["Location"] == "/"
        assert client.session["_auth_user_id"] == str(acme["partner_user"].user.pk)
        home = client.get("/")
        assert home.status_code == 200
        assert home.context["membership"] == acme["partner_user"]
        assert acme.partner.name in home.content.decode()

    def test_login_returns_to_the_page_asked_for_on_this_host_only(self, acme):
        client = Client(HTTP_HOST=acme.host)
        response = client.get("/people/")
        assert response["Location"] == "/accounts/login/?next=/people/"
        page = client.get(response["Location"]).content.decode()
        assert 'name="next" value="/people/"' in page
        credentials = {"login": acme["ops_admin"].user.email, "password": factories.PASSWORD}
        response = client.post("/accounts/login/?next=/people/", credentials)
        assert response["Location"] == "/people/"
        evil = Client(HTTP_HOST=acme.host)
        response = evil.post("/accounts/login/?next=http://evil.test/", credentials)
        assert response["Location"] == "/"

    def test_wrong_password_is_refused(self, acme):
        client, response = log_in(acme.host, acme["partner_user"].user.email, "wrong-password-1")
        assert_refused(client, response)

    def test_same_credentials_on_another_tenant_are_refused_like_a_wrong_password(
        self, acme, globex
    ):
        client, response = log_in(globex.host, acme["partner_user"].user.email)
        assert_refused(client, response)
        # Nothing of the other tenant opens either.
        assert client.get("/").status_code == 302

    def test_member_of_both_tenants_sees_each_tenants_data_on_its_host(self, acme, globex):
        user = factories.make_user("both@example.test", full_name="Bo Th")
        with acme.scope():
            Membership.objects.create(
                tenant=acme.tenant, user=user, role=Role.PARTNER_USER, partner=acme.partner
            )
        with globex.scope():
            globex_membership = Membership.objects.create(
                tenant=globex.tenant, user=user, role=Role.PARTNER_ADMIN, partner=globex.partner
            )

        acme_client, response = log_in(acme.host, user.email)
        assert response.status_code == 302
        page = acme_client.get("/").content.decode()
        assert acme.partner.name in page
        assert globex.partner.name not in page
        assert "Manage colleagues" not in page  # a partner user at acme

        globex_client, response = log_in(globex.host, user.email)
        assert response.status_code == 302
        home = globex_client.get("/")
        page = home.content.decode()
        assert home.context["membership"] == globex_membership
        assert globex.partner.name in page
        assert acme.partner.name not in page
        assert "Manage colleagues" in page  # a partner admin at globex

        # The acme session does not open globex: cookies are per host, and a
        # session carried over would be ended (the membership is looked up in
        # the request's tenant only).
        people = globex_client.get("/people/")
        assert people.status_code == 200
        emails = {m.user.email for m in people.context["memberships"]}
        assert emails == {user.email, "partner.admin@globex.test", "partner.user@globex.test"}

    def test_deactivated_membership_cannot_log_in(self, acme):
        membership = acme["partner_user"]
        with acme.scope():
            membership.is_active = False
            membership.save()
        client, response = log_in(acme.host, membership.user.email)
        assert_refused(client, response)

    def test_session_ends_at_next_request_after_deactivation(self, acme):
        membership = acme["partner_user"]
        client, response = log_in(acme.host, membership.user.email)
        assert response.status_code == 302
        assert client.get("/").status_code == 200
        with acme.scope():
            membership.is_active = False
            membership.save()
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN_URL)
        assert "_auth_user_id" not in client.session
        # Reactivating does not bring the old session back.
        with acme.scope():
            membership.is_active = True
            membership.save()
        assert client.get("/").status_code == 302

    def test_session_ends_when_the_user_is_deactivated(self, acme):
        user = acme["ops_admin"].user
        client, _response = log_in(acme.host, user.email)
        User.objects.filter(pk=user.pk).update(is_active=False)
        response = client.get("/people/")
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN_URL)
        assert not response.wsgi_request.user.is_authenticated

    def test_logout_is_a_post(self, acme):
        client, _response = log_in(acme.host, acme["partner_user"].user.email)
        response = client.post("/accounts/logout/")
        assert response.status_code == 302
        assert "_auth_user_id" not in client.session


@pytest.mark.django_db
class TestPlatformLogin:
    def test_superuser_logs_in_on_platform_host(self, acme):
        admin = factories.make_user("root@platform.test", is_superuser=True)
        client, response = log_in("localhost", admin.email)
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(admin.pk)
        assert client.get("/admin/").status_code == 200

    def test_tenant_member_cannot_log_in_on_platform_host(self, acme):
        client, response = log_in("localhost", acme["ops_admin"].user.email)
        assert_refused(client, response)

    def test_superuser_without_membership_cannot_log_in_on_a_tenant(self, acme):
        admin = factories.make_user("root@platform.test", is_superuser=True)
        client, response = log_in(acme.host, admin.email)
        assert_refused(client, response)


@pytest.mark.django_db
class TestSignupClosed:
    def test_signup_page_says_closed_and_offers_no_form(self, acme):
        client = Client(HTTP_HOST=acme.host)
        response = client.get("/accounts/signup/")
        assert response.status_code == 200
        assert "account/signup_closed.html" in [t.name for t in response.templates]
        assert b'name="password1"' not in response.content

    def test_posting_to_signup_creates_no_account(self, acme):
        users_before = User.objects.count()
        client = Client(HTTP_HOST=acme.host)
        response = client.post(
            "/accounts/signup/",
            {
                "email": "newcomer@example.test",
                "password1": "a-long-new-password-7",
                "password2": "a-long-new-password-7",
            },
        )
        assert response.status_code == 200
        assert User.objects.count() == users_before
        assert not User.objects.filter(email="newcomer@example.test").exists()
        assert "_auth_user_id" not in client.session

    def test_login_page_has_no_sign_up_link(self, acme):
        response = Client(HTTP_HOST=acme.host).get(LOGIN_URL)
        assert response.status_code == 200
        page = response.content.decode()
        assert reverse("account_signup") not in page
        assert "sign up" not in page.lower()
        assert 'name="login"' in page
        assert 'name="password"' in page
        assert reverse("account_reset_password") in page


@pytest.mark.django_db
class TestStaffMFA:
    @pytest.fixture
    def mfa_required(self, acme):
        acme.tenant.require_staff_mfa = True
        acme.tenant.save()
        return acme

    @pytest.mark.parametrize("role", ["ops_admin", "channel_manager", "finance", "executive"])
    @pytest.mark.parametrize("path", ["/", "/people/", "/admin/"])
    def test_staff_without_totp_are_sent_to_set_it_up(self, mfa_required, role, path):
        response = mfa_required.client(role).get(path)
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")

    def test_staff_post_without_totp_is_refused(self, mfa_required):
        response = mfa_required.client("ops_admin").post(
            "/people/invite/", {"email": "x@example.test", "role": "finance"}
        )
        assert response.status_code == 403

    def test_staff_member_sets_up_totp_and_can_then_work(self, mfa_required):
        client, response = log_in(mfa_required.host, mfa_required["ops_admin"].user.email)
        assert response.status_code == 302
        assert client.get("/").url == reverse("mfa_activate_totp")
        # allauth asks for the password again before adding an authenticator;
        # the middleware lets that page through.
        response = client.get(reverse("mfa_activate_totp"))
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_reauthenticate"))
        response = client.post(response.url, {"password": factories.PASSWORD})
        assert response.status_code == 302
        assert response.url == reverse("mfa_activate_totp")
        response = client.get(reverse("mfa_activate_totp"))
        assert response.status_code == 200
        secret = response.context["form"].secret
        counter = next(totp_auth.yield_hotp_counters_from_time())
        code = totp_auth.format_hotp_value(totp_auth.hotp_value(secret, counter))
        response = client.post(reverse("mfa_activate_totp"), {"code": code})
        assert response.status_code == 302
        assert Authenticator.objects.filter(
            user=mfa_required["ops_admin"].user, type=Authenticator.Type.TOTP
        ).exists()
        assert client.get("/people/").status_code == 200

    def test_staff_with_totp_work_normally(self, mfa_required):
        Authenticator.objects.create(
            user=mfa_required["ops_admin"].user,
            type=Authenticator.Type.TOTP,
            data={"secret": "JBSWY3DPEHPK3PXP"},
        )
        assert mfa_required.client("ops_admin").get("/people/").status_code == 200

    @pytest.mark.parametrize("role", ["partner_admin", "partner_user"])
    def test_partner_users_are_not_affected(self, mfa_required, role):
        assert mfa_required.client(role).get("/").status_code == 200

    def test_other_tenant_without_the_setting_is_not_affected(self, mfa_required, globex):
        assert globex.client("ops_admin").get("/").status_code == 200
