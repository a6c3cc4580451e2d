"""The outage page (prm.tenancy.outage): it renders with the database and
the cache both out of reach, says what happened and when to come back, and
is chosen only for outage errors. The outages themselves are in
tests/outages/test_postgres_outage.py and tests/outages/test_cache_outage.py."""

import psycopg
import pytest
import redis
from allauth.core.internal import ratelimit
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory

from prm.tenancy import outage
from prm.tenancy.models import Tenant
from tests.outage import free_port

# No django_db mark: any database query in these tests raises.


@pytest.fixture(autouse=True)
def _clear_cache():
    """Replaces the suite's cache clearing (which needs Redis): here the
    cache is out of reach on purpose."""


@pytest.fixture(autouse=True)
def cache_out_of_reach(settings):
    """The cache points at a port nothing listens on."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}
    }


def request(method: str = "GET", path: str = "/deals/?page=2", tenant: Tenant | None = None):
    made = getattr(RequestFactory(), method.lower())(path, HTTP_HOST="acme.localhost")
    if tenant is not None:
        made.tenant = tenant
    return made


def test_the_page_needs_neither_database_nor_cache(cache_out_of_reach):
    from django.core.cache import cache

    with pytest.raises(redis.exceptions.ConnectionError):
        cache.get("anything")
    response = outage.unavailable(request(), OperationalError("server closed the connection"))
    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "no-store" in response["Cache-Control"]
    assert "<title>Briefly unavailable · PRM platform</title>" in html
    assert "The service is briefly unavailable: it cannot reach its database right now." in html
    assert "try again in a minute" in html
    assert outage.HALF_SAVED in html
    assert '<a href="/deals/?page=2">Try again</a>' in html
    assert 'href="/static/css/prm.css"' in html


def test_the_page_wears_the_tenants_name_when_it_was_found():
    tenant = Tenant(name="Acme Corp", slug="acme", support_email="help@acme.test")
    response = outage.unavailable(request(tenant=tenant), InterfaceError("connection closed"))
    html = response.content.decode()
    assert "Briefly unavailable · Acme Corp partner portal" in html
    assert 'href="mailto:help@acme.test"' in html


def test_a_post_is_not_offered_as_a_link_to_repeat():
    response = outage.unavailable(request("POST", "/deals/new/"), OperationalError("gone"))
    html = response.content.decode()
    assert "Try again</a>" not in html
    assert '<a href="/">Back to the home page</a>' in html


def test_a_cache_outage_in_the_sign_in_limiter_says_sign_in_is_paused(caplog):
    post = request("POST", "/accounts/login/")
    post.META["REMOTE_ADDR"] = "203.0.113.9"
    with pytest.raises(redis.exceptions.ConnectionError) as raised:
        ratelimit.consume(post, app="allauth.account", action="login_failed", key="a@b.test")

    response = outage.unavailable(post, raised.value)

    html = response.content.decode()
    assert response.status_code == 503
    assert "<h1>Sign-in is paused</h1>" in html
    assert "the sign-in attempt limiter cannot be reached right now" in html
    assert "try again in a minute" in html
    [line] = [r for r in caplog.records if r.name == "prm.outage"]
    assert "answered 503: the rate limiter is unreachable (ConnectionError" in line.getMessage()


def test_a_cache_outage_elsewhere_is_a_plain_outage():
    error = redis.exceptions.TimeoutError("Timeout reading from socket")
    html = outage.unavailable(request(), error).content.decode()
    assert "<h1>Briefly unavailable</h1>" in html
    assert "part of it cannot be reached right now" in html


def test_an_error_raised_from_an_outage_is_an_outage():
    cause = OperationalError("terminating connection due to administrator command")
    try:
        try:
            raise cause
        except OperationalError as exc:
            raise RuntimeError("could not save the session") from exc
    except RuntimeError as wrapper:
        assert outage.outage_in(wrapper) is cause
    assert outage.outage_in(ValueError("a bug")) is None


def driver_error(error: psycopg.Error) -> OperationalError:
    """Django's OperationalError as Django raises it: from psycopg's."""
    try:
        raise OperationalError(str(error)) from error
    except OperationalError as raised:
        return raised


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection failed: Connection refused"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.TooManyConnections("sorry, too many clients already"),
        psycopg.errors.ConnectionFailure("connection failure"),
    ],
)
def test_lost_or_refused_connections_are_outages(error):
    assert outage.outage_in(driver_error(error)) is not None


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.LockNotAvailable("could not obtain lock"),
    ],
)
def test_contention_and_timeouts_are_not_outages(error):
    assert outage.outage_in(driver_error(error)) is None


def test_handler500_answers_503_for_an_outage_and_500_for_anything_else():
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        assert outage.server_error(request()).status_code == 503
    try:
        raise ZeroDivisionError
    except ZeroDivisionError:
        assert outage.server_error(request()).status_code == 500
