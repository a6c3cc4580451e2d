"""Redis (the broker) stops while partners submit registrations, and comes
back empty: no submission fails, and every one is checked once it is back.

A real Celery worker (a subprocess) consumes from a private ``redis-server``
the test stops (SIGKILL, no persistence: every queued message is lost) and
starts again on the same port. The relay that beat runs every few seconds
is called by the test.
"""

import subprocess
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from dealreg.models import DealRegistration
from prm.tenancy import outbox
from prm.tenancy.models import OutboxMessage
from prm.tenancy.roles import Role
from tests.dealreg.conftest import products  # noqa: F401 (a fixture)
from tests.dealreg.test_portal_form import form_data
from tests.outage import Worker, private_broker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

NOT_CHECKED = DealRegistration.ConflictState.NOT_CHECKED


@pytest.fixture
def broker():
    with private_broker() as redis:
        yield redis


@pytest.fixture
def worker(broker, tmp_path):
    """Started first: it boots while the test makes its data."""
    process = Worker(tmp_path / "worker.log", "redis-outage", PRM_CELERY_BROKER_URL=broker.url)
    try:
        yield process
    finally:
        process.stop()


def supervised(worker: Worker, broker, request, tmp_path) -> Worker:
    """The worker, or a new one if it exited: a worker acknowledging a
    message as the broker goes can exit ("Unrecoverable error", a known
    Celery/kombu behaviour), and its supervisor starts it again
    (scripts/run_all.sh, docker compose's restart policy). What it was doing
    is redelivered by the outbox or found by a sweep. A worker that logged
    the error may still be shutting down: it is waited for (and killed if it
    hangs), so a dying worker is never taken for a live one."""
    if "Unrecoverable error" in worker.output():
        try:
            worker.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.process.wait(timeout=5)
    if worker.process.poll() is None:
        return worker
    again = Worker(tmp_path / "worker-2.log", "redis-outage-2", PRM_CELERY_BROKER_URL=broker.url)
    request.addfinalizer(again.stop)
    return again.wait_ready()


def unchecked(world) -> list[str]:
    with world.scope():
        return list(
            DealRegistration.objects.filter(conflict_state=NOT_CHECKED).values_list(
                "customer_name", flat=True
            )
        )


def not_done() -> int:
    with scopes_disabled():
        return OutboxMessage.objects.filter(done_at__isnull=True).count()


def test_submissions_during_an_outage_answer_normally_and_are_checked_after(
    acme,
    products,  # noqa: F811
    broker,
    worker,
    request,
    tmp_path,
):
    client = acme.client(Role.PARTNER_USER)
    fw_and_edr = products["acme"]

    def submit(name: str):
        # Each its own customer (domain too): the same one twice would be
        # answered with the duplicate warning, not saved.
        domain = name.lower().replace(" ", "-") + ".example"
        return client.post(
            "/deals/new/", form_data(fw_and_edr, customer_name=name, customer_domain=domain)
        )

    worker.wait_ready()
    assert submit("Before Outage Ltd").status_code == 302
    wait_for(lambda: not unchecked(acme), 30, f"the first check:\n{worker.output()}")

    broker.stop()
    during = [submit(f"During Outage {n} Ltd") for n in range(3)]
    assert [r.status_code for r in during] == [302, 302, 302]
    assert sorted(unchecked(acme)) == [f"During Outage {n} Ltd" for n in range(3)]
    with scopes_disabled():
        waiting = OutboxMessage.objects.filter(done_at__isnull=True)
        # Each submission's conflict check and its mail to the approver.
        assert waiting.filter(task="dealreg.tasks.check_conflicts").count() == 3
        assert not waiting.filter(sent_at__isnull=False).exists()
    # The relay runs meanwhile, and hands nothing to a broker that is down.
    assert outbox.relay(now=timezone.now() + timedelta(seconds=11)) == 0

    broker.start()  # empty: the outage lost whatever was queued
    worker = supervised(worker, broker, request, tmp_path)
    handed = outbox.relay(now=timezone.now() + timedelta(seconds=11))
    assert handed == not_done() > 3
    wait_for(lambda: not_done() == 0, 60, f"the work to be done:\n{worker.output()}", 0.1)
    assert unchecked(acme) == []
    with acme.scope():
        assert DealRegistration.objects.count() == 4


def test_a_deal_won_during_an_outage_is_accrued_by_the_sweep(
    acme,
    products,  # noqa: F811
    broker,
    worker,
    request,
    tmp_path,
):
    """Accruals are state, not outbox rows: the kick after the outcome's
    commit fails quietly, and the beat sweep (a won deal changed since its
    last sync) is their one way back."""
    from dealreg import services as dealreg
    from incentives import tasks as incentive_tasks
    from incentives.models import LedgerEntry
    from tests.incentives.conftest import make_plan

    with acme.scope():
        registration = DealRegistration.objects.get(pk=_submitted(acme, products["acme"]).pk)
        registration = dealreg.approve(registration, by=acme[Role.CHANNEL_MANAGER])
        make_plan(acme, rate_percent=Decimal("10"))
    worker.wait_ready()
    broker.stop()
    with acme.scope(), transaction.atomic():
        dealreg.record_outcome(
            registration,
            by=acme[Role.PARTNER_USER],
            won=True,
            amount=Decimal("27500.00"),
            close_date=date.today() - timedelta(days=1),
        )
    # The outcome committed (the kick after it failed: the broker is down).
    with acme.scope():
        registration.refresh_from_db()
        assert registration.status == DealRegistration.Status.WON
        assert not LedgerEntry.objects.exists()

    broker.start()
    worker = supervised(worker, broker, request, tmp_path)
    assert incentive_tasks.dispatch_sweeps() == 1  # what beat runs every 5 minutes
    with acme.scope():
        accrued = LedgerEntry.objects.filter(registration=registration)
        wait_for(accrued.exists, 30, f"the accrual:\n{worker.output()}", 0.1)
        [entry] = accrued
        assert entry.amount == Decimal("2750.00")
    assert incentive_tasks.dispatch_sweeps() == 0  # nothing left to sync


def _submitted(world, lines):
    import uuid

    from dealreg import services
    from tests.dealreg.conftest import registration_input

    with world.scope(), transaction.atomic():
        return services.submit(
            tenant=world.tenant,
            by=world[Role.PARTNER_USER],
            given=registration_input(lines),
            client_token=uuid.uuid4(),
        )
