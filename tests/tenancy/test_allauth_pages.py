"""Every allauth page a person meets (log in and out, password reset, email
confirmation, two-factor set-up and sign-in, recovery codes, reauthentication,
sessions) renders inside the portal's layout: the portal's top bar, and a
card (a narrow one before signing in; the "My account" menu and a card
after)."""

import time

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal import auth as totp_auth
from django.core import mail
from django.test import Client
from django.urls import reverse

from prm.tenancy.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db

ENTRANCE = 'class="card narrow auth-card"'
MANAGE = 'class="card account-section"'
SECRET = "JBSWY3DPEHPK3PXP"


def assert_portal_page(response, card: str) -> str:
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    page = response.content.decode()
    assert 'class="topbar"' in page  # the portal's header
    assert '<link rel="stylesheet" href="/static/css/prm.css">' in page
    assert card in page
    assert page.count("<html") == 1  # allauth's own layout is not nested inside
    return page


def log_in(world, role) -> Client:
    client = Client(HTTP_HOST=world.host)
    response = client.post(
        "/accounts/login/", {"login": world[role].user.email, "password": factories.PASSWORD}
    )
    assert response.status_code == 302
    return client


def reauthenticated_get(client: Client, url: str):
    """GET ``url``; where allauth first asks for the password again (adding
    or removing an authenticator), give it on its page, then GET again."""
    response = client.get(url)
    if response.status_code == 302 and response["Location"].startswith(
        reverse("account_reauthenticate")
    ):
        assert_portal_page(client.get(response["Location"]), ENTRANCE)
        answer = client.post(response["Location"], {"password": factories.PASSWORD})
        assert answer.status_code == 302 and answer["Location"] == url
        response = client.get(url)
    return response


def signed_in_with_code(world, role) -> Client:
    user = world[role].user
    client = Client(HTTP_HOST=world.host)
    client.post("/accounts/login/", {"login": user.email, "password": factories.PASSWORD})
    response = client.post(reverse("mfa_authenticate"), {"code": current_code()})
    assert response.status_code == 302 and client.get("/").status_code == 200
    return client


def current_code() -> str:
    """The authenticator's code now; near the end of its 30 seconds, the
    next one's (allauth accepts the current period only)."""
    if time.time() % 30 > 27:
        time.sleep(30 - time.time() % 30 + 0.1)
    counter = next(totp_auth.yield_hotp_counters_from_time())
    return totp_auth.format_hotp_value(totp_auth.hotp_value(SECRET, counter))


class TestBeforeSigningIn:
    @pytest.mark.parametrize(
        "name",
        [
            "account_login",
            "account_reset_password",
            "account_reset_password_done",
            "account_reset_password_from_key_done",
            "account_email_verification_sent",
        ],
    )
    def test_entrance_pages(self, acme, name):
        assert_portal_page(acme.client().get(reverse(name)), ENTRANCE)

    def test_login_offers_the_password_reset(self, acme):
        page = assert_portal_page(acme.client().get(reverse("account_login")), ENTRANCE)
        assert reverse("account_reset_password") in page

    def test_password_reset_from_the_mail_to_a_new_password(self, acme):
        user = acme[Role.PARTNER_USER].user
        client = acme.client()
        mail.outbox.clear()
        response = client.post(reverse("account_reset_password"), {"email": user.email})
        assert response.status_code == 302
        assert len(mail.outbox) == 1
        key = default_token_generator.make_token(user)
        url = reverse(
            "account_reset_password_from_key",
            kwargs={"uidb36": user_pk_to_url_str(user), "key": key},
        )
        response = client.get(url, follow=True)
        page = assert_portal_page(response, ENTRANCE)
        assert 'name="password1"' in page
        set_url = response.redirect_chain[-1][0]
        response = client.post(
            set_url, {"password1": "a-new-long-pass-2026", "password2": "a-new-long-pass-2026"}
        )
        assert response.status_code == 302
        user.refresh_from_db()
        assert user.check_password("a-new-long-pass-2026")

    def test_a_bad_reset_key_says_so_in_the_portal_layout(self, acme):
        url = reverse("account_reset_password_from_key", kwargs={"uidb36": "zz", "key": "bad"})
        page = assert_portal_page(acme.client().get(url, follow=True), ENTRANCE)
        assert "invalid" in page.lower()

    def test_email_confirmation_page(self, acme):
        url = reverse("account_confirm_email", kwargs={"key": "not-a-key"})
        assert_portal_page(acme.client().get(url), ENTRANCE)

    def test_two_factor_sign_in_page(self, acme):
        user = acme[Role.FINANCE].user
        totp_auth.TOTP.activate(user, SECRET)
        client = Client(HTTP_HOST=acme.host)
        response = client.post(
            "/accounts/login/", {"login": user.email, "password": factories.PASSWORD}
        )
        assert response["Location"] == reverse("mfa_authenticate")
        page = assert_portal_page(client.get(reverse("mfa_authenticate")), ENTRANCE)
        assert 'name="code"' in page
        response = client.post(reverse("mfa_authenticate"), {"code": current_code()})
        assert response.status_code == 302
        assert client.get("/").status_code == 200


class TestSignedIn:
    def test_logout_page(self, acme):
        client = acme.client(Role.PARTNER_USER)
        assert_portal_page(client.get(reverse("account_logout")), MANAGE)

    def test_reauthenticate_page(self, acme):
        client = acme.client(Role.PARTNER_USER)
        assert_portal_page(client.get(reverse("account_reauthenticate")), ENTRANCE)

    @pytest.mark.parametrize(
        "name",
        ["account_email", "account_change_password", "mfa_index", "usersessions_list"],
    )
    def test_manage_pages(self, acme, name):
        page = assert_portal_page(acme.client(Role.PARTNER_USER).get(reverse(name)), MANAGE)
        assert 'aria-label="My account"' in page

    def test_setting_up_an_authenticator_app(self, acme):
        client = log_in(acme, Role.PARTNER_ADMIN)
        response = reauthenticated_get(client, reverse("mfa_activate_totp"))
        page = assert_portal_page(response, MANAGE)
        assert 'name="code"' in page
        secret = response.context["form"].secret
        if time.time() % 30 > 27:
            time.sleep(30 - time.time() % 30 + 0.1)
        counter = next(totp_auth.yield_hotp_counters_from_time())
        code = totp_auth.format_hotp_value(totp_auth.hotp_value(secret, counter))
        response = client.post(reverse("mfa_activate_totp"), {"code": code})
        assert response.status_code == 302
        page = client.get(reverse("account")).content.decode()
        assert "An authenticator app asks for a code" in page

    @pytest.mark.parametrize(
        "name", ["mfa_deactivate_totp", "mfa_view_recovery_codes", "mfa_generate_recovery_codes"]
    )
    def test_two_factor_pages_once_it_is_on(self, acme, name):
        user = acme[Role.OPS_ADMIN].user
        totp_auth.TOTP.activate(user, SECRET)
        RecoveryCodes.activate(user)
        client = signed_in_with_code(acme, Role.OPS_ADMIN)
        assert_portal_page(reauthenticated_get(client, reverse(name)), MANAGE)

    def test_recovery_codes_are_shown_and_regenerated(self, acme):
        user = acme[Role.OPS_ADMIN].user
        totp_auth.TOTP.activate(user, SECRET)
        codes = RecoveryCodes.activate(user).get_unused_codes()
        client = signed_in_with_code(acme, Role.OPS_ADMIN)
        url = reverse("mfa_view_recovery_codes")
        page = reauthenticated_get(client, url).content.decode()
        assert codes[0] in page
        reauthenticated_get(client, reverse("mfa_generate_recovery_codes"))
        response = client.post(reverse("mfa_generate_recovery_codes"))
        assert response.status_code == 302
        page = client.get(reverse("mfa_view_recovery_codes")).content.decode()
        assert codes[0] not in page

    def test_mfa_reauthenticate_page(self, acme):
        user = acme[Role.OPS_ADMIN].user
        totp_auth.TOTP.activate(user, SECRET)
        client = acme.client(Role.OPS_ADMIN)
        assert_portal_page(client.get(reverse("mfa_reauthenticate")), ENTRANCE)


class TestPlatformHost:
    @pytest.mark.parametrize(
        "name", ["account_email", "account_change_password", "mfa_index", "usersessions_list"]
    )
    def test_a_superusers_account_pages_have_allauths_part_of_the_menu(self, db, name):
        root = factories.make_user("root@platform.test", is_superuser=True)
        client = Client(HTTP_HOST="localhost")
        client.force_login(root, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        page = assert_portal_page(client.get(reverse(name, urlconf="prm.urls_platform")), MANAGE)
        assert 'href="/accounts/email/"' in page
        assert 'href="/account/profile/"' not in page  # the hub is a tenant's
