"""The worker dies mid-payout-run: no partner is paid twice.

A real Celery worker (a subprocess, on the test database and the test Redis
broker, consuming a private queue) writes the payouts of a run of 300
partners; it is killed with SIGKILL as soon as the first payouts are in the
database. A new worker then finishes the run, enqueued by the beat job that
resumes stalled runs. Every ready partner ends with exactly one payout equal
to what was payable, each entry settled once, and ``check_ledger`` (run as
the command, exit status 0) finds nothing wrong.
"""

import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Count

from incentives import payout_tasks, payouts
from incentives.models import LedgerEntry, PayoutLine, PayoutRun, Settlement
from partners.models import Partner
from prm.celery import app as celery_app
from prm.tenancy.roles import Role
from tests.outage import ROOT, Worker, wait_for, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

QUEUE = "incentives-payout-crash-test"
PARTNERS = 300
Status = PayoutRun.Status


@pytest.fixture
def broker(monkeypatch):
    """Tasks go through the Redis broker to the private queue (not eager)."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    for task in (payout_tasks.compute_payout_run, payout_tasks.write_payout_run):
        publish = task.apply_async
        monkeypatch.setattr(
            task,
            "apply_async",
            lambda args=None, kwargs=None, publish=publish, **options: publish(
                args, kwargs, **{**options, "queue": QUEUE}
            ),
        )
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = eager


@pytest.fixture
def ledger_of_300_partners(acme):
    """300 partners with an accrual each (and a clawback for every third),
    payable yesterday, inserted in bulk; a run computed and in review."""
    day = date.today() - timedelta(days=1)
    tenant = acme.tenant
    with acme.scope():
        partners = Partner.objects.bulk_create(
            Partner(
                tenant=tenant,
                name=f"Crash Partner {i:03d}",
                normalized_name=f"crash partner {i:03d}",
                partner_type=Partner.Type.RESELLER,
                country="US",
                tier=acme.partner.tier,
                status=Partner.Status.ACTIVE,
            )
            for i in range(PARTNERS)
        )
        expected, entries = {}, []
        for i, partner in enumerate(partners):
            amounts = [Decimal(f"{100 + i}.25")] + ([Decimal("-20.10")] if i % 3 == 0 else [])
            expected[partner.pk] = sum(amounts)
            for n, amount in enumerate(amounts):
                entry = LedgerEntry(
                    tenant=tenant,
                    partner=partner,
                    kind=LedgerEntry.Kind.ACCRUAL if amount > 0 else LedgerEntry.Kind.CLAWBACK,
                    amount=amount,
                    currency="USD",
                    fx_rate=Decimal(1),
                    amount_base=amount,
                    base_currency="USD",
                    source=LedgerEntry.Source.MANUAL,
                    period_start=day,
                    statement_start=day.replace(day=1),
                    effective_date=day,
                    available_on=day,
                    description="Crash test",
                    created_via="test",
                    idempotency_key=f"crash:{partner.pk}:{n}",
                )
                entry.checksum = entry.compute_checksum()
                entries.append(entry)
        LedgerEntry.objects.bulk_create(entries)
        run = payouts.compute_run(payouts.start_run(tenant, by=acme[Role.FINANCE], cutoff=day))
        assert run.status == Status.REVIEW
        ready = PayoutLine.objects.filter(run=run, status=PayoutLine.Status.READY)
        assert ready.count() == PARTNERS
    return run, expected


@pytest.fixture
def first_worker(broker, tmp_path):
    """Started before the data is made: it boots meanwhile."""
    worker = Worker(tmp_path / "worker-1.log", "payout-crash-1", queues=QUEUE)
    try:
        yield worker
    finally:
        worker.kill()


def test_killing_the_worker_mid_run_pays_nobody_twice(
    acme, first_worker, ledger_of_300_partners, tmp_path
):
    run, expected = ledger_of_300_partners
    first, second = first_worker, None
    with acme.scope():
        payout_entries = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYOUT)
        try:
            first.wait_ready()
            payouts.approve(run, by=acme.second(Role.FINANCE))  # enqueues the write on commit
            wait_for(payout_entries.exists, 30, "the first payouts")
            first.kill()
            written_before_restart = payout_entries.count()
            run.refresh_from_db()
            assert run.status == Status.APPROVING, "the worker finished before it was killed"
            assert 0 < written_before_restart < PARTNERS

            second = Worker(tmp_path / "worker-2.log", "payout-crash-2", queues=QUEUE)
            second.wait_ready()
            # The beat job: a run whose heartbeat stopped is enqueued again.
            assert payout_tasks.resume_stalled_runs(stale_after_seconds=0) == 1
            approved = PayoutRun.objects.filter(pk=run.pk, status=Status.APPROVED)
            wait_for(approved.exists, 60, f"the run to finish:\n{second.output()}", 0.1)
        finally:
            if second is not None:
                second.stop()

        run.refresh_from_db()
        assert run.partners_done == run.partners_total == PARTNERS
        per_partner = dict(
            payout_entries.values("partner_id")
            .annotate(n=Count("id"))
            .values_list("partner_id", "n")
        )
        assert len(per_partner) == PARTNERS
        assert set(per_partner.values()) == {1}
        paid = dict(payout_entries.values_list("partner_id", "amount_base"))
        assert paid == {pk: -amount for pk, amount in expected.items()}
        assert run.total_payable == sum(expected.values())
        lines = PayoutLine.objects.filter(run=run)
        assert set(lines.values_list("status", flat=True)) == {PayoutLine.Status.PAID_OUT}
        entries = LedgerEntry.objects.count()  # accruals, clawbacks and payouts
        settled = Settlement.objects.filter(run=run)
        assert settled.count() == entries
        assert settled.values("entry_id").distinct().count() == entries
    check = subprocess.run(
        [sys.executable, "manage.py", "check_ledger"],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{2 * PARTNERS + PARTNERS // 3} entries" in check.stdout  # accruals, clawbacks, payouts
