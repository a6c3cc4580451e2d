"""A worker killed with SIGKILL in the middle of each kind of task: every
effect happens exactly once in the end (issue #21).

Each test runs real Celery workers (``tests.outage.Worker``: subprocesses on
the test database and the test Redis), makes the change through the real
service so that the work is deferred or kicked for real, and stops the first
worker at a known point in the middle of the task: a transaction of the
test's own holds what the task needs next (a row lock, or an uncommitted row
with the key the task inserts), and the test waits until PostgreSQL shows
the worker's connection waiting for it, with the task's first writes made
(for mail: until the worker has connected to a mail server that never
answers). There the worker is killed with SIGKILL; the test lets go, and
PostgreSQL rolls back what the task had written: none of it is left. The
kind's one recovery path then runs on a second worker, and every effect is
counted: exactly one. A mail whose server has it already is the exception:
killed while the server takes its time to answer the goodbye after it, the
worker has recorded the sending, and nothing is sent again.

==============  ======================================  =========================
kind            killed in                               recovered by
==============  ======================================  =========================
conflict check  ``dealreg.tasks.check_conflicts``,      the outbox relay
                flagging the registrations
accrual         ``incentives.tasks.sync_deal``,         the accrual sweep
                recording the sync (entries written)    (``dispatch_sweeps``)
statement       ``statement_tasks.close_periods``,      the next period close
                inserting the statements                (``dispatch_period_close``)
mail            ``send_notification_email`` and         the outbox relay
                ``send_invitation``, before the server
                has the message
mail            the same, after: waiting for the        none needed: the sending
                server's answer to the goodbye (QUIT)   was committed before it
==============  ======================================  =========================

The fifth kind, the payout run, is tested the same way in
tests/incentives/test_payout_crash.py (killed mid-run, finished by
``resume_stalled_runs``).

The test's lock is released only after the kill, and the test then waits
for PostgreSQL to end the dead worker's connection: a connection waiting
for a lock does not notice that its client died; it finishes the statement
once the lock is free, then finds the client gone and rolls back. (Waiting
in COMMIT, it would commit: no test stops a task at its commit.)

Both workers start with the test (they boot while its data is made), each
consuming a queue of its own: what the change publishes goes to the first,
what the recovery publishes to the second.
"""

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any, TypeVar

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from dealreg import services as dealreg
from dealreg.models import Conflict, DealRegistration, ProductLine, RegistrationEvent
from dealreg.workflow import CHECK_CONFLICTS
from incentives import ledger, periods, statement_tasks, statements
from incentives import tasks as incentive_tasks
from incentives.models import DealAccrualState, LedgerEntry, Statement
from partners.models import Partner
from prm.broker import task_named
from prm.celery import app as celery_app
from prm.tenancy import outbox
from prm.tenancy import services as tenancy
from prm.tenancy.models import Membership, Notification, OutboxMessage
from prm.tenancy.roles import Role
from prm.tenancy.text import plural
from tests import factories
from tests.conftest import TenantWorld
from tests.dealreg.conftest import registration_input
from tests.incentives.conftest import make_plan
from tests.outage import SmtpServer, Worker, free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FIRST, SECOND = "worker-killed-test-1", "worker-killed-test-2"
# The tasks the tests' changes and recoveries publish.
ROUTED = (
    CHECK_CONFLICTS,
    tenancy.SEND_NOTIFICATION_EMAIL,
    tenancy.SEND_INVITATION,
    "incentives.tasks.sync_deal",
    "incentives.tasks.sweep_deals",
    "incentives.statement_tasks.close_periods",
)
# Past every lease: the relay hands over whatever is not done.
LATER = timedelta(hours=2)
# A worker boots in a few seconds; on a busy machine it may take longer.
BOOT = 60
Conflicts = DealRegistration.ConflictState
T = TypeVar("T")


# --- Workers, queues and locks ------------------------------------------------------


@dataclass
class Route:
    """Where the routed tasks go."""

    queue: str = FIRST

    def to(self, queue: str) -> None:
        """From now on the routed tasks go through Redis to ``queue``."""
        celery_app.conf.task_always_eager = False
        self.queue = queue


def purge() -> None:
    with celery_app.connection_for_write() as conn:
        # The default queue: what a worker published itself (a notification's mail).
        for queue in (FIRST, SECOND, celery_app.conf.task_default_queue):
            conn.default_channel.queue_purge(queue)


@pytest.fixture
def broker(monkeypatch) -> Iterator[Route]:
    """The routed tasks run eagerly while the test makes its data, and go
    through the Redis broker to the queue of ``route.to(...)`` after."""
    route = Route()
    for name in ROUTED:
        task = task_named(name)
        publish = task.apply_async
        monkeypatch.setattr(
            task,
            "apply_async",
            lambda args=None, kwargs=None, publish=publish, **options: publish(
                args, kwargs, **{**options, "queue": route.queue}
            ),
        )
    eager = celery_app.conf.task_always_eager
    purge()
    try:
        yield route
    finally:
        celery_app.conf.task_always_eager = eager
        purge()


@pytest.fixture
def start_workers(tmp_path) -> Iterator[Any]:
    """``start_workers(*envs)``: a worker per environment (by default two),
    the one to kill on FIRST and the one that recovers on SECOND, booting
    at once; each killed at the end."""
    started: list[Worker] = []

    def start(*envs: dict[str, str]) -> list[Worker]:
        for queue, env in zip((FIRST, SECOND), envs or ({}, {}), strict=False):
            started.append(Worker(tmp_path / f"{queue}.log", queue, queues=queue, **env))
        return started

    yield start
    for worker in started:
        worker.kill()


def wait_on(worker: Worker, condition: Callable[[], T | None], what: str) -> T:
    """``wait_for`` what ``worker`` does; its log in the failure."""
    try:
        return wait_for(condition, BOOT, what, 0.05)
    except AssertionError as failure:
        raise AssertionError(f"{failure}; the worker's log:\n{worker.output()}") from None


class Hold:
    """A transaction of the test's own, on a connection of its own, holding
    what its statement locked until ``release()``."""

    def __init__(self, sql: str, params: tuple[Any, ...]):
        settings = connection.settings_dict
        self.conn = psycopg.connect(
            host=settings["HOST"],
            port=settings["PORT"],
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            dbname=settings["NAME"],
        )
        self.conn.execute(sql, params)  # not autocommit: the transaction stays open
        self.pid = self.conn.info.backend_pid

    def waiter(self, worker: Worker) -> tuple[int, str]:
        """The backend that waits for this transaction (``worker``'s):
        (pid, its statement)."""

        def waiting() -> tuple[int, str] | None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, query FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    [self.pid],
                )
                return cursor.fetchone()

        return wait_on(worker, waiting, "the worker to wait for the test's lock")

    def release(self) -> None:
        self.conn.close()  # rolls back


@pytest.fixture
def hold() -> Iterator[Any]:
    """``hold(sql, *params) -> Hold``; each is released at the end."""
    held: list[Hold] = []

    def take(sql: str, *params: Any) -> Hold:
        held.append(Hold(sql, params))
        return held[-1]

    yield take
    for each in held:
        each.release()


def tables_written(pid: int) -> set[str]:
    """The tables backend ``pid``'s open transaction has written to."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = %s AND l.mode = 'RowExclusiveLock' AND c.relkind = 'r'
            """,
            [pid],
        )
        return {name for (name,) in cursor.fetchall()}


def kill_waiting(worker: Worker, held: Hold, pid: int) -> None:
    """SIGKILL ``worker`` while its backend ``pid`` waits for ``held``; let go;
    wait until PostgreSQL has ended the backend (its transaction rolled back)."""
    worker.kill()
    held.release()

    def gone() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT FROM pg_stat_activity WHERE pid = %s", [pid])
            return cursor.fetchone() is None

    wait_for(gone, 10, f"PostgreSQL to end the killed worker's connection {pid}")


def check_ledger(entries: int, statements: int) -> None:
    """``check_ledger`` finds nothing wrong (it raises on a difference) in
    that many entries and statements."""
    out = StringIO()
    call_command("check_ledger", stdout=out)
    counted = f"{plural(entries, 'entry', 'entries')}, {plural(statements, 'statement')}"
    assert counted in out.getvalue()


def submit(world: TenantWorld, member: Membership, product: ProductLine) -> DealRegistration:
    """A registration of Initech (initech.example) for ``product``."""
    return dealreg.submit(
        tenant=world.tenant,
        by=member,
        given=registration_input({"fw": product}),
    )


# --- Conflict check -------------------------------------------------------------------


def conflict_effects(ours: DealRegistration, theirs: DealRegistration) -> tuple:
    """Both conflict states, our stored conflicts, "conflicts found" events,
    and notifications of them to our approver."""
    states = dict(
        DealRegistration.objects.filter(pk__in=[ours.pk, theirs.pk]).values_list(
            "pk", "conflict_state"
        )
    )
    return (
        states[ours.pk],
        states[theirs.pk],
        Conflict.objects.filter(registration=ours, other_registration=theirs).count(),
        RegistrationEvent.objects.filter(
            registration=ours, kind=RegistrationEvent.Kind.CONFLICTS_FOUND
        ).count(),
        Notification.objects.filter(user=ours.approver, kind="dealreg.conflicts").count(),
    )


def test_conflict_check_killed_mid_way_is_done_once_by_the_relay(acme, broker, start_workers, hold):
    first, second = start_workers()
    with acme.scope():
        firewall = ProductLine.objects.create(tenant=acme.tenant, name="Firewall", code="fw")
        rival = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival@acme.test"
        )
        theirs = submit(acme, rival, firewall)  # checked at once (eagerly): no conflict
    # Their row, held: our check, which flags it too, waits there.
    held = hold("SELECT FROM dealreg_dealregistration WHERE id = %s FOR UPDATE", theirs.pk)

    broker.to(FIRST)
    with acme.scope():
        ours = submit(acme, acme[Role.PARTNER_USER], firewall)
        assert ours.approver is not None
    pid, query = held.waiter(first)
    assert "UPDATE dealreg_dealregistration SET conflict_state" in query
    assert "dealreg_conflict" in tables_written(pid)  # its conflicts stored, uncommitted
    kill_waiting(first, held, pid)

    with acme.scope():
        row = OutboxMessage.objects.get(task=CHECK_CONFLICTS, kwargs__registration_id=str(ours.pk))
        assert (row.attempts, row.done_at) == (1, None)
        assert conflict_effects(ours, theirs) == (Conflicts.NOT_CHECKED, Conflicts.CLEAR, 0, 0, 0)

        broker.to(SECOND)
        outbox.relay(now=timezone.now() + LATER)
        done = OutboxMessage.objects.filter(pk=row.pk, done_at__isnull=False)
        wait_on(second, done.exists, "the check to be done")
        row.refresh_from_db()
        assert row.attempts == 2
        assert conflict_effects(ours, theirs) == (Conflicts.CONFLICT, Conflicts.CONFLICT, 1, 1, 1)


# --- Accrual --------------------------------------------------------------------------


def test_accrual_killed_mid_way_is_written_once_by_the_sweep(acme, broker, start_workers, hold):
    first, second = start_workers()
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        firewall = ProductLine.objects.create(tenant=acme.tenant, name="Firewall", code="fw")
        registration = submit(acme, acme[Role.PARTNER_USER], firewall)
        registration = dealreg.approve(registration, by=acme[Role.CHANNEL_MANAGER])
    # Another transaction recording this deal's sync: the sync's last write waits for it.
    held = hold(
        "INSERT INTO incentives_dealaccrualstate (id, tenant_id, registration_id, problem)"
        " VALUES (gen_random_uuid(), %s, %s, '')",
        acme.tenant.pk,
        registration.pk,
    )

    broker.to(FIRST)
    with acme.scope():
        won = dealreg.record_outcome(  # kicks sync_deal once committed
            registration,
            by=acme[Role.PARTNER_USER],
            won=True,
            amount=Decimal("27500.00"),
            close_date=acme.tenant.local_today() - timedelta(days=1),
        )
    pid, query = held.waiter(first)
    assert query.startswith('INSERT INTO "incentives_dealaccrualstate"')
    assert "incentives_ledgerentry" in tables_written(pid)  # its accrual written, uncommitted
    kill_waiting(first, held, pid)

    with acme.scope():
        entries = LedgerEntry.objects.filter(registration=won)
        assert not entries.exists()
        assert not DealAccrualState.objects.exists()

        broker.to(SECOND)
        assert incentive_tasks.dispatch_sweeps() == 1  # beat: a sweep of acme
        synced = DealAccrualState.objects.filter(registration=won, synced_at__isnull=False)
        wait_on(second, synced.exists, "the sweep to sync the deal")
        assert list(entries.values_list("kind", "amount")) == [
            (LedgerEntry.Kind.ACCRUAL, Decimal("2750.00"))
        ]
    assert incentive_tasks.dispatch_sweeps() == 0  # nothing left to sync
    check_ledger(entries=1, statements=0)


# --- Statement issue ------------------------------------------------------------------


def book(world: TenantWorld, partner: Partner, when: datetime, amount: Decimal) -> None:
    """An accrual for ``partner`` written at ``when`` (so booked in its period)."""
    ledger.write(
        world.tenant,
        ledger.NewEntry(
            partner_id=partner.pk,
            kind=LedgerEntry.Kind.ACCRUAL,
            amount=amount,
            currency=world.tenant.base_currency,
            fx_rate=Decimal(1),
            source=LedgerEntry.Source.MANUAL,
            effective_date=when.date(),
            available_on=when.date(),
            description="Outage test",
            idempotency_key=f"outage:{partner.pk}",
            created_via="tests",
        ),
        now=when,
    )


def test_statements_killed_mid_issue_are_issued_once_by_the_next_close(
    acme, broker, start_workers, hold
):
    first, second = start_workers()
    with acme.scope():
        third = factories.make_partner(acme.tenant, "Acme Reseller Three")
        partners = [acme.partner, acme.other_partner, third]
        period = statements.statement_period(acme.tenant)
        # The period that ended last, and an accrual in it for each partner.
        start = statements.previous_start(statements.current_start(acme.tenant, period), period)
        end = periods.period_end(start, period)
        when = datetime.combine(start + timedelta(days=9), time(12), tzinfo=UTC)
        amounts = {p.pk: Decimal(f"{n}00.00") for n, p in enumerate(partners, 1)}
        for partner in partners:
            book(acme, partner, when, amounts[partner.pk])
    # Another transaction issuing the third partner's statement: the close's
    # insert of the statements waits for it.
    held = hold(
        """
        INSERT INTO incentives_statement (
            id, tenant_id, partner_id, period, period_start, period_end, currency, opening,
            accruals, adjustments, clawbacks, payouts, closing, line_count, issued_at)
        VALUES (gen_random_uuid(), %s, %s, %s, %s, %s, %s, 0, 0, 0, 0, 0, 0, 0, now())
        """,
        acme.tenant.pk,
        third.pk,
        period,
        start,
        end,
        acme.tenant.base_currency,
    )

    broker.to(FIRST)
    assert statement_tasks.dispatch_period_close() == 1  # beat: a close of acme
    pid, query = held.waiter(first)
    assert query.startswith('INSERT INTO "incentives_statement"')
    kill_waiting(first, held, pid)

    with acme.scope():
        assert not Statement.objects.exists()

        broker.to(SECOND)
        assert statement_tasks.dispatch_period_close() == 1
        issued = Statement.objects.filter(period_start=start)
        wait_on(second, issued.exists, "the statements")
        assert {s.partner_id: (s.accruals, s.closing) for s in Statement.objects.all()} == {
            pk: (amount, amount) for pk, amount in amounts.items()
        }
        # The close after that issues nothing more.
        assert statement_tasks.close_ended_periods(acme.tenant) == {"statements": 0, "rebates": 0}
        assert Statement.objects.count() == len(partners)
    check_ledger(entries=len(partners), statements=len(partners))


# --- Mail -----------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A mail server that accepts connections and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        yield listener


class GoodbyeStallingServer:
    """A mail server (aiosmtpd) that accepts messages and never answers the
    goodbye (QUIT) after them."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.messages: list[list[str]] = []
        self.saying_goodbye = threading.Event()
        server = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                server.messages.append(list(envelope.rcpt_tos))
                return "250 Message accepted for delivery"

            async def handle_QUIT(self, _server: Any, _session: Any, _envelope: Any) -> str:
                server.saying_goodbye.set()
                await asyncio.sleep(3600)
                return "221 Bye"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)


@pytest.fixture
def stalling_server() -> Iterator[GoodbyeStallingServer]:
    server = GoodbyeStallingServer()
    server.controller.start()
    yield server
    server.controller.stop()


def mail_env(port: int, timeout: int) -> dict[str, str]:
    return {
        "PRM_TEST_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "PRM_EMAIL_HOST": "127.0.0.1",
        "PRM_EMAIL_PORT": str(port),
        "PRM_EMAIL_TIMEOUT": str(timeout),
    }


def accepted(listener: socket.socket) -> socket.socket | None:
    try:
        return listener.accept()[0]
    except BlockingIOError:
        return None


def mail_through_service(world: TenantWorld, mail: str) -> tuple[OutboxMessage, str, str]:
    """Have an invitation or a notification mailed, through its service:
    its outbox row, its recipient and a line of its text."""
    if mail == "invitation":
        recipient = "new.person@example.test"
        _, token = tenancy.invite(
            tenant=world.tenant, by=world[Role.OPS_ADMIN], email=recipient, role=Role.FINANCE
        )
        task, line = tenancy.SEND_INVITATION, f"/invitations/{token}/"
    else:
        user = world[Role.FINANCE].user
        recipient, line = user.email, "Your statement is ready"
        with transaction.atomic():
            tenancy.notify(world.tenant, [user], kind="test.outage", title=line)
        task = tenancy.SEND_NOTIFICATION_EMAIL
    return OutboxMessage.objects.get(task=task), recipient, line


def assert_recorded_sent(row: OutboxMessage) -> None:
    """The outbox row is done, and what records the mail sent says so."""
    row.refresh_from_db()
    assert row.done_at is not None
    if row.task == tenancy.SEND_INVITATION:
        assert "token" not in row.kwargs  # dropped once done
    else:
        (note,) = Notification.objects.filter(kind="test.outage")
        assert note.emailed_at is not None


@pytest.mark.parametrize("mail", ["notification", "invitation"])
def test_mail_killed_before_the_server_has_it_is_sent_once_by_the_relay(
    mail, acme, broker, start_workers, smtp, silent_server
):
    first, second = start_workers(
        mail_env(silent_server.getsockname()[1], timeout=600), mail_env(smtp.port, timeout=10)
    )
    broker.to(FIRST)
    with acme.scope():
        row, recipient, line = mail_through_service(acme, mail)

        # The worker is sending: connected, waiting for the server's greeting.
        client = wait_on(first, lambda: accepted(silent_server), "the worker to connect")
        # Its task holds the row: the relay does not hand it over meanwhile.
        assert outbox.relay(now=timezone.now() + LATER) == 0
        first.kill()
        client.close()
        row.refresh_from_db()
        assert (row.attempts, row.done_at) == (1, None)
        assert smtp.messages == []

        broker.to(SECOND)
        # Handed over again once PostgreSQL has ended the dead worker's transaction.
        wait_for(lambda: outbox.relay(now=timezone.now() + LATER), 10, "the relay")
        done = OutboxMessage.objects.filter(pk=row.pk, done_at__isnull=False)
        wait_on(second, done.exists, "the mail to be sent")
        assert [to for to, _ in smtp.messages] == [[recipient]]
        assert line in smtp.messages[0][1]
        assert outbox.relay(now=timezone.now() + LATER) == 0  # nothing left to hand over
        assert_recorded_sent(row)
        assert row.attempts == 2


@pytest.mark.parametrize("mail", ["notification", "invitation"])
def test_mail_killed_after_the_server_has_it_is_not_sent_again(
    mail, acme, broker, start_workers, stalling_server
):
    """The goodbye to the server comes after the commit that records the
    sending: a worker killed while a slow server takes its time to answer
    it leaves nothing for the relay to send again."""
    (first,) = start_workers(mail_env(stalling_server.port, timeout=600))
    broker.to(FIRST)
    with acme.scope():
        row, recipient, _ = mail_through_service(acme, mail)

        wait_on(first, stalling_server.saying_goodbye.is_set, "the worker to say goodbye")
        first.kill()
        assert stalling_server.messages == [[recipient]]
        assert_recorded_sent(row)
        assert row.attempts == 1
        assert outbox.relay(now=timezone.now() + LATER) == 0
