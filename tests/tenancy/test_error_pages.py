"""The branded error pages: not found, not allowed, too many attempts and
the server error, on the portal, in the tenant admin and on the platform
host; and the sign-in lockout's message, which says when to try again."""

import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from allauth.core.internal import ratelimit
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from prm.tenancy import context_processors
from prm.tenancy.ratelimits import retry_in, try_again
from prm.tenancy.roles import Role
from tests import factories

NEW_YORK_14_04_30 = datetime(2026, 12, 3, 19, 4, 30, tzinfo=UTC)  # 14:04:30 in New York


def assert_branded(response, status: int, *texts: str, tenant_name: str = "Acme Corp"):
    assert response.status_code == status
    body = response.content.decode()
    assert 'data-testid="error-page"' in body
    assert f"{tenant_name} partner portal" in body if tenant_name else "PRM platform" in body
    assert 'href="/"' in body  # a way home
    assert "Traceback" not in body
    for text in texts:
        assert text in body, text
    return body


@pytest.fixture
def new_york(acme):
    acme.tenant.timezone = "America/New_York"
    acme.tenant.save()
    return acme


class TestNotFound:
    def test_portal_page_that_does_not_exist(self, acme):
        response = acme.client(Role.PARTNER_USER).get("/no-such-page/")
        assert_branded(response, 404, "Page not found", "There is no page at this address")

    def test_signed_out_visitor_is_offered_the_login(self, acme):
        response = Client(HTTP_HOST=acme.host).get("/deals/" + str(uuid.uuid4()) + "/x/")
        body = assert_branded(response, 404)
        assert "/accounts/login/?next=" in body

    def test_inside_the_tenant_admin(self, acme):
        response = acme.client(Role.OPS_ADMIN).get("/admin/no-such-page/")
        assert_branded(response, 404, "Page not found")

    def test_another_tenants_object_in_the_admin(self, acme, globex):
        url = f"/admin/partners/partner/{globex.partner.pk}/change/"
        assert_branded(acme.client(Role.OPS_ADMIN).get(url), 404, "Page not found")

    def test_platform_host(self, db):
        response = Client(HTTP_HOST="localhost").get("/no-such-page/")
        assert_branded(response, 404, "Page not found", tenant_name="")


class TestNotAllowed:
    def test_partner_user_in_the_admin(self, acme):
        response = acme.client(Role.PARTNER_USER).get("/admin/")
        body = assert_branded(response, 403, "You cannot do this here")
        assert "signed in as partner user at Acme Reseller One" in body

    def test_partner_user_on_a_staff_page(self, acme):
        response = acme.client(Role.PARTNER_USER).get("/admin/partners/partner/")
        assert_branded(response, 403, "You cannot do this here")


class TestServerError:
    @pytest.fixture
    def broken(self, monkeypatch):
        def explode(membership):
            raise RuntimeError("secret internals 0xdeadbeef")

        monkeypatch.setattr(context_processors, "navigation", explode)

    def test_portal_answers_the_branded_500_without_internals(self, acme, broken):
        client = acme.client(Role.PARTNER_USER)
        client.raise_request_exception = False
        response = client.get("/")
        body = assert_branded(response, 500, "Something went wrong on our side")
        assert "0xdeadbeef" not in body and "RuntimeError" not in body
        assert response.headers["Cache-Control"] == "no-store"
        # The request id to quote, the same as the response header's.
        assert response["X-Request-ID"] in body

    def test_admin_answers_the_branded_500(self, acme, broken):
        client = acme.client(Role.OPS_ADMIN)
        client.raise_request_exception = False
        response = client.get("/admin/partners/partner/")
        assert_branded(response, 500, "Something went wrong on our side")


class TestTooManyAttempts:
    def test_password_reset_requests_say_when_to_try_again(self, new_york):
        client = Client(HTTP_HOST=new_york.host)
        email = new_york[Role.PARTNER_USER].user.email
        with time_machine.travel(NEW_YORK_14_04_30, tick=False):
            for _ in range(5):  # ACCOUNT_RATE_LIMITS: 5/m/key
                assert client.post("/accounts/password/reset/", {"email": email}).status_code == 302
            response = client.post("/accounts/password/reset/", {"email": email})
        body = assert_branded(response, 429, "Too many attempts", "password reset requests")
        assert "Try again in 1 minute (after 14:06)." in body
        assert response["Retry-After"] == "60"

    def test_sign_in_lockout_says_when_to_try_again(self, new_york):
        client = Client(HTTP_HOST=new_york.host)
        email = new_york[Role.PARTNER_USER].user.email
        with time_machine.travel(NEW_YORK_14_04_30, tick=False):
            for _ in range(5):  # 5/5m/key
                client.post("/accounts/login/", {"login": email, "password": "wrong"})
        with time_machine.travel(datetime(2026, 12, 3, 19, 6, 0, tzinfo=UTC), tick=False):
            response = client.post(
                "/accounts/login/", {"login": email, "password": factories.PASSWORD}
            )
        assert response.status_code == 200
        errors = response.context["form"].non_field_errors()
        # The oldest counted attempt leaves the 5-minute window at 14:09:30.
        assert errors == ["Too many failed sign-in attempts. Try again in 4 minutes (after 14:10)."]
        assert "_auth_user_id" not in client.session
        assert "Try again in 4 minutes (after 14:10)." in response.content.decode()


class TestRetryArithmetic:
    def test_the_amount_th_newest_attempt_decides(self, rf):
        request = rf.post("/")
        request.user = AnonymousUser()
        rates = ratelimit.get_rates(app="allauth.account", action="reset_password")
        (rate,) = [r for r in rates if r.per == "key"]
        key = ratelimit.get_cache_key(
            request, app="allauth.account", action="reset_password", rate=rate, key="a@b.test"
        )
        now = 1_000_000.0
        # 5 per minute: attempts 50, 40, 30, 20 and 10 s ago; the 5th newest
        # (50 s ago) leaves the window in 10 s.
        cache.set(key, [now - s for s in (10, 20, 30, 40, 50)], 60)
        assert retry_in(request, "reset_password", key="a@b.test", now=now) == pytest.approx(10)
        cache.set(key, [now - s for s in (10, 20, 30, 40)], 60)
        assert retry_in(request, "reset_password", key="a@b.test", now=now) == 0

    def test_wording(self):
        at = datetime(2026, 12, 3, 14, 4, 0, tzinfo=UTC)
        assert try_again(30, now=at) == "Try again in 30 seconds (after 14:05)."
        assert try_again(60, now=at) == "Try again in 1 minute (after 14:05)."
        assert try_again(61, now=at) == "Try again in 2 minutes (after 14:06)."
        assert try_again(1, now=at) == "Try again in 1 second (after 14:05)."


def test_two_factor_lockout_says_when_to_try_again(new_york):
    user = new_york[Role.OPS_ADMIN].user
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )
    client = Client(HTTP_HOST=new_york.host)
    with time_machine.travel(NEW_YORK_14_04_30, tick=False):
        response = client.post(
            "/accounts/login/", {"login": user.email, "password": factories.PASSWORD}
        )
        assert response.url == reverse("mfa_authenticate")
        for _ in range(5):  # login_failed: 5/5m per key
            response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
            assert "Too many" not in response.content.decode()
        response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert response.status_code == 200
    assert response.context["form"].errors["code"] == [
        "Too many failed sign-in attempts. Try again in 5 minutes (after 14:10)."
    ]
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_admin_login_sends_only_to_pages_of_this_host(acme, target):
    response = acme.client(Role.OPS_ADMIN).get("/admin/login/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    signed_out = Client(HTTP_HOST=acme.host).get("/admin/login/", {"next": target})
    assert signed_out["Location"] == "/accounts/login/?next=%2Fadmin%2F"
