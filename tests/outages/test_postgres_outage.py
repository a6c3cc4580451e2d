"""PostgreSQL outages seen from a request, and from a Celery worker.

Real outages: a connection terminated with ``pg_terminate_backend`` from a
second connection (between two requests, and in the middle of a request
that writes), PostgreSQL cut off behind a TCP proxy, a server that accepts
connections and never answers. Requests go through Django's WSGI handler
(tests/outages/web.py), as in production. The app recovers on its own each
time: ``CONN_HEALTH_CHECKS`` replaces a dead connection before it is used,
and an outage answers the branded 503 page, never a 500.
"""

import importlib
import logging
import time
import uuid
from datetime import date, timedelta

import psycopg
import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.signals import got_request_exception
from django.db import connection

import prm.settings
from dealreg import routing
from dealreg.models import DealRegistration, ProductLine, RegistrationEvent
from dealreg.tasks import sweep_sla
from prm.celery import app as celery_app
from prm.tenancy.outage import HALF_SAVED
from prm.tenancy.roles import Role
from tests import factories
from tests.outage import TcpProxy, Worker, wait_for
from tests.outages.web import WsgiClient, deadline, silent_server

pytestmark = pytest.mark.django_db(transaction=True)

DATABASE = settings.DATABASES["default"]
UNREACHABLE = "it cannot reach its database right now"


def direct_connection() -> psycopg.Connection:
    """A connection of the test's own, straight to PostgreSQL (not through
    any proxy a test put in front of the app)."""
    return psycopg.connect(
        host=DATABASE["HOST"],
        port=DATABASE["PORT"],
        user=DATABASE["USER"],
        password=DATABASE["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )


def terminate(pid: int) -> None:
    """``pg_terminate_backend``, and wait until the backend is gone."""
    with direct_connection() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)

        def gone() -> bool:
            row = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            return row is None

        wait_for(gone, 10, f"backend {pid} to end")


def app_backend_pid() -> int:
    """The PostgreSQL backend of the app's connection (the test's thread runs
    the requests), kept between requests by CONN_MAX_AGE."""
    assert connection.connection is not None, "the app holds no connection"
    return connection.connection.info.backend_pid


def assert_outage_page(response, phrase: str = UNREACHABLE) -> None:
    assert response.status_code == 503, response.text[:500]
    assert response["Retry-After"] == "60"
    assert "no-store" in response["Cache-Control"]
    assert 'data-testid="outage"' in response.text
    assert phrase in response.text


def assert_logged_as_warnings(caplog, count: int) -> None:
    """One ``prm.outage`` warning per outage answer; no ERROR (a 500, a mail
    to ADMINS) from Django."""
    warnings = [r for r in caplog.records if r.name == "prm.outage"]
    assert len(warnings) == count
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert all("answered 503: the database is unreachable" in r.getMessage() for r in warnings)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def products(acme):
    with acme.scope():
        return [
            ProductLine.objects.create(tenant=acme.tenant, name=name, code=code)
            for code, name in (("fw", "Firewall"), ("edr", "Endpoint"))
        ]


def registration_form(products) -> dict:
    return {
        "client_token": str(uuid.uuid4()),
        "customer_name": "Initech Corporation",
        "customer_domain": "initech.example",
        "customer_country": "US",
        "customer_region": "",
        "customer_contact_name": "Bill Lumbergh",
        "customer_contact_email": "bill@initech.example",
        "customer_contact_phone": "+1 555 0100",
        "product_lines": [str(p.pk) for p in products],
        "estimated_value": "25000.50",
        "currency": "USD",
        "expected_close_date": (date.today() + timedelta(days=45)).isoformat(),
        "description": "Firewall refresh",
        "action": "submit",
    }


def test_a_connection_killed_between_requests_is_replaced_by_the_next_request(acme):
    client = WsgiClient(acme.host).log_in(acme[Role.PARTNER_USER].user)
    assert client.get("/").status_code == 200
    killed = app_backend_pid()
    terminate(killed)

    response = client.get("/deals/")

    assert response.status_code == 200, response.text[:500]
    assert app_backend_pid() != killed


def test_a_connection_killed_in_the_middle_of_a_submission_writes_nothing(
    acme, products, monkeypatch, caplog
):
    client = WsgiClient(acme.host).log_in(acme[Role.PARTNER_USER].user)
    assert client.get("/deals/new/").status_code == 200
    form = registration_form(products)
    choose_approver = routing.choose_approver
    written_before_the_kill = []

    def kill_then_route(registration):
        # The service has saved the registration and its first events in
        # its transaction; the connection dies before it routes it.
        written_before_the_kill.append(
            DealRegistration.objects.filter(pk=registration.pk).exists()
            and RegistrationEvent.objects.filter(registration_id=registration.pk).exists()
        )
        terminate(app_backend_pid())
        return choose_approver(registration)

    monkeypatch.setattr(routing, "choose_approver", kill_then_route)
    reported = []  # what error trackers (Sentry …) hear of

    def report(sender, request, **kwargs):
        reported.append(request.path)

    got_request_exception.connect(report)
    try:
        response = client.post("/deals/new/", form)
    finally:
        got_request_exception.disconnect(report)

    assert written_before_the_kill == [True]
    assert_outage_page(response)
    assert HALF_SAVED in response.text
    assert_logged_as_warnings(caplog, 1)
    # Answered by OutageMiddleware.process_exception, not as an uncaught
    # exception (handler500).
    assert reported == []
    with acme.scope():
        assert not DealRegistration.objects.exists()
        assert not RegistrationEvent.objects.exists()

    # The next request has a connection again; the same form goes through.
    monkeypatch.setattr(routing, "choose_approver", choose_approver)
    response = client.post("/deals/new/", form)
    assert response.status_code == 302, response.text[:500]
    with acme.scope():
        registration = DealRegistration.objects.get()
    assert registration.status == DealRegistration.Status.SUBMITTED
    assert response["Location"] == f"/deals/{registration.code}/"


@pytest.fixture
def superuser():
    return factories.make_user("root@platform.test", is_superuser=True)


@pytest.fixture
def database_behind_proxy():
    """The app reaches PostgreSQL through a TcpProxy (the settings dict is
    shared by every connection of the process; restored afterwards)."""
    proxy = TcpProxy((DATABASE["HOST"], int(DATABASE["PORT"]))).start()
    saved = connection.settings_dict["HOST"], connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["HOST"], connection.settings_dict["PORT"] = "127.0.0.1", proxy.port
    try:
        yield proxy
    finally:
        connection.close()
        connection.settings_dict["HOST"], connection.settings_dict["PORT"] = saved
        proxy.stop()


@pytest.mark.parametrize("where", ["tenant", "platform"])
def test_a_connection_killed_while_the_session_is_saved_answers_503_and_signs_nobody_in(
    where, acme, superuser, monkeypatch, caplog
):
    """The session is saved by a middleware, after the view, in the URL
    conf of the host (a tenant's portal, or the platform admin)."""
    if where == "tenant":
        client, user, page = WsgiClient(acme.host), acme[Role.PARTNER_USER].user, "/"
    else:
        client, user, page = WsgiClient(settings.PRM_BASE_DOMAIN), superuser, "/admin/"
    credentials = {"login": user.email, "password": factories.PASSWORD}
    assert client.get("/accounts/login/").status_code == 200
    save = SessionStore.save

    def kill_then_save(self, must_create=False):
        if not must_create:  # SessionMiddleware's save, not a new key's
            terminate(app_backend_pid())
        return save(self, must_create)

    monkeypatch.setattr(SessionStore, "save", kill_then_save)
    response = client.post("/accounts/login/", credentials)

    assert_outage_page(response)
    assert_logged_as_warnings(caplog, 1)
    monkeypatch.setattr(SessionStore, "save", save)
    assert client.get(page).status_code == 302  # to the login page: not signed in
    assert client.post("/accounts/login/", credentials).status_code == 302
    assert client.get(page).status_code == 200


def test_while_postgres_is_cut_off_every_host_answers_503_and_recovers_without_restart(
    acme, superuser, database_behind_proxy, caplog
):
    proxy = database_behind_proxy
    pages = [
        (WsgiClient(acme.host).log_in(acme[Role.PARTNER_USER].user), "/"),
        (WsgiClient(acme.host).log_in(acme[Role.PARTNER_USER].user), "/deals/"),
        (WsgiClient(acme.host).log_in(acme[Role.OPS_ADMIN].user), "/admin/"),
        (WsgiClient(settings.PRM_BASE_DOMAIN).log_in(superuser), "/admin/"),
    ]
    for client, path in pages:
        assert client.get(path).status_code == 200, path

    proxy.cut()
    for client, path in pages:
        started = time.monotonic()
        response = client.get(path)
        assert time.monotonic() - started < 2, path
        assert_outage_page(response)
        assert "PRM platform" in response.text  # the tenant's name is in the database too
    assert_logged_as_warnings(caplog, len(pages))

    proxy.mend()
    for client, path in pages:
        assert client.get(path).status_code == 200, path


def test_a_database_that_never_answers_costs_a_request_the_connect_timeout(acme, monkeypatch):
    monkeypatch.setenv("PRM_DB_CONNECT_TIMEOUT", "1")
    configured = importlib.reload(prm.settings).DATABASES["default"]["OPTIONS"]
    monkeypatch.undo()
    importlib.reload(prm.settings)
    saved = dict(connection.settings_dict)
    client = WsgiClient(acme.host)
    try:
        with silent_server() as port:
            connection.close()
            connection.settings_dict.update(HOST="127.0.0.1", PORT=port, OPTIONS=configured)
            started = time.monotonic()
            with deadline(10):
                response = client.get("/accounts/login/")
            elapsed = time.monotonic() - started
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert_outage_page(response)
    assert 1 <= elapsed < 3
    assert DATABASE["OPTIONS"]["connect_timeout"] == 5  # PRM_DB_CONNECT_TIMEOUT's default


QUEUE = "web-outage-db-test"


@pytest.fixture
def worker(tmp_path):
    """A Celery worker subprocess on the test database, consuming a private
    queue that the test sends to through the Redis broker (not eager)."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    process = Worker(tmp_path / "worker.log", "db-outage", queues=QUEUE)
    try:
        yield process.wait_ready()
    finally:
        process.stop()
        celery_app.conf.task_always_eager = eager


def other_backends() -> list[int]:
    """The backends on the test database other than the test's own: the
    worker's, if it holds one."""
    with direct_connection() as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
            [connection.settings_dict["NAME"], app_backend_pid()],
        ).fetchall()
    return [pid for (pid,) in rows]


def test_a_worker_runs_the_next_task_after_connections_were_killed_between_tasks(acme, worker):
    done = "dealreg.tasks.sweep_sla SUCCESS"

    def sweep_and_wait(count: int) -> None:
        sweep_sla.apply_async(kwargs={"tenant_id": str(acme.tenant.pk)}, queue=QUEUE)
        wait_for(lambda: worker.output().count(done) == count, 20, f"sweep {count}", 0.05)

    sweep_and_wait(1)
    with direct_connection() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> %s",
            [connection.settings_dict["NAME"], app_backend_pid()],
        )

    sweep_and_wait(2)

    assert "FAILURE" not in worker.output()
    # Why: Celery's Django fixup closes the worker's connection before and
    # after every task (CONN_MAX_AGE does not apply in a worker), so the
    # next task always opens a new one. Were that to change
    # (CELERY_DB_REUSE_MAX), a kept connection would rely on
    # CONN_HEALTH_CHECKS, and the kill above would test it.
    wait_for(lambda: not other_backends(), 10, "the worker to close its connection")
