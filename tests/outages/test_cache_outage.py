"""The Redis cache down, seen from requests.

The cache points at a ``redis-server`` of the test's own (tests/outage.py),
which the test kills and starts again. Pages need no cache: the portal, a
deal submission and the admin answer as usual. Two things do need it:
signing in (allauth counts attempts in the cache), which fails closed with
a 503 that says why, and the CSV import's preview, which says it cannot be
held. Both work again as soon as Redis is back.
"""

import time
import uuid
from datetime import date, timedelta

import pytest
import redis
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dealreg.models import DealRegistration, ProductLine
from partners.models import Partner
from prm.tenancy import csv_import
from prm.tenancy.roles import Role
from tests import factories
from tests.outage import RedisServer
from tests.outages.web import deadline, silent_server

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PAUSED = "the sign-in attempt limiter cannot be reached right now"
IMPORT = "/admin/partners/partner/import/"


@pytest.fixture
def redis_server(settings):
    """The cache on a private redis-server (Django resets its caches when
    the setting changes, and again when the test ends)."""
    server = RedisServer().start()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cache_down(redis_server):
    redis_server.stop()
    with pytest.raises(redis.exceptions.ConnectionError):
        cache.get("anything")
    return redis_server


@pytest.fixture
def superuser():
    return factories.make_user("root@platform.test", is_superuser=True)


def test_portal_and_admin_pages_need_no_cache(acme, superuser, cache_down):
    partner = acme.client(Role.PARTNER_USER)
    for path in ("/", "/deals/", "/deals/new/", "/notifications/"):
        assert partner.get(path).status_code == 200, path
    with acme.scope():
        product = ProductLine.objects.create(tenant=acme.tenant, name="Firewall", code="fw")
    response = partner.post(
        "/deals/new/",
        {
            "client_token": str(uuid.uuid4()),
            "customer_name": "Initech Corporation",
            "customer_domain": "initech.example",
            "customer_country": "US",
            "customer_contact_name": "Bill Lumbergh",
            "customer_contact_email": "bill@initech.example",
            "product_lines": [str(product.pk)],
            "estimated_value": "25000.00",
            "currency": "USD",
            "expected_close_date": (date.today() + timedelta(days=45)).isoformat(),
            "description": "Firewall refresh",
            "action": "submit",
        },
    )
    assert response.status_code == 302
    with acme.scope():
        assert DealRegistration.objects.get().status == DealRegistration.Status.SUBMITTED

    staff = acme.client(Role.OPS_ADMIN)
    for path in (
        "/",
        "/people/",
        "/admin/",
        "/admin/dealreg/dealregistration/",
        "/admin/partners/partner/",
        IMPORT,
    ):
        assert staff.get(path).status_code == 200, path
    platform = Client(HTTP_HOST="localhost")
    platform.force_login(superuser, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    for path in ("/admin/", "/admin/tenancy/tenant/"):
        assert platform.get(path).status_code == 200, path


def sign_in(client: Client, email: str, password: str = factories.PASSWORD):
    return client.post(LOGIN, {"login": email, "password": password})


def assert_sign_in_paused(client: Client, response) -> None:
    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "<h1>Sign-in is paused</h1>" in html
    assert PAUSED in html
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("where", ["tenant", "platform"])
def test_sign_in_fails_closed_while_the_cache_is_down_and_works_once_it_is_back(
    where, acme, superuser, redis_server, caplog
):
    host, email = (
        (acme.host, acme[Role.PARTNER_USER].user.email)
        if where == "tenant"
        else ("localhost", superuser.email)
    )
    client = Client(HTTP_HOST=host)
    redis_server.stop()
    assert client.get(LOGIN).status_code == 200  # the form itself needs no cache

    # Right password or wrong: nobody signs in uncounted.
    assert_sign_in_paused(client, sign_in(client, email))
    assert_sign_in_paused(client, sign_in(client, email, "wrong-password-1"))
    outage_lines = [r.getMessage() for r in caplog.records if r.name == "prm.outage"]
    assert len(outage_lines) == 2
    assert all("the rate limiter is unreachable" in line for line in outage_lines)

    redis_server.start()
    response = sign_in(client, email)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(
        acme[Role.PARTNER_USER].user.pk if where == "tenant" else superuser.pk
    )


def test_a_cache_that_never_answers_costs_sign_in_the_socket_timeout(acme, settings):
    with silent_server() as port:
        settings.CACHES = {
            "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}
        }
        client = Client(HTTP_HOST=acme.host)
        started = time.monotonic()
        with deadline(10):
            response = sign_in(client, acme[Role.PARTNER_USER].user.email)
        elapsed = time.monotonic() - started
    assert_sign_in_paused(client, response)
    # PRM_CACHE_SOCKET_TIMEOUT's default; redis-py's own would be 5 s (none
    # before redis-py 6).
    assert settings.CACHES["default"]["OPTIONS"]["socket_timeout"] == 2
    assert 2 <= elapsed < 4


def upload(client: Client, names: list[str]):
    lines = ["name,type,country,tier", *(f"{name},reseller,US,Gold" for name in names)]
    file = SimpleUploadedFile("partners.csv", "\n".join(lines).encode(), "text/csv")
    return client.post(IMPORT, {"file": file})


def partner_names(world) -> set[str]:
    with world.scope():
        return set(Partner.objects.values_list("name", flat=True))


def test_csv_import_says_it_cannot_hold_the_preview_while_the_cache_is_down(acme, redis_server):
    client = acme.client(Role.OPS_ADMIN)
    before = partner_names(acme)
    held = upload(client, ["Fabrikam"])
    token = held.context["token"]

    redis_server.stop()
    response = upload(client, ["Contoso", "Tailspin Toys"])
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["result"].ok  # the file itself is fine
    assert csv_import.CANNOT_HOLD in html
    assert 'name="confirm"' not in html
    assert "token" not in response.context
    # A preview held before the outage cannot be reached either.
    response = client.post(IMPORT, {"confirm": "1", "token": token})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [csv_import.CANNOT_REACH]
    assert partner_names(acme) == before

    redis_server.start()  # empty: what it held is lost
    response = upload(client, ["Contoso"])
    assert 'name="confirm"' in response.content.decode()
    response = client.post(IMPORT, {"confirm": "1", "token": response.context["token"]})
    assert response.status_code == 302
    assert partner_names(acme) == before | {"Contoso"}
