"""Payout runs under concurrency, on real PostgreSQL transactions: threads
with their own connections start together at a barrier, and the ledger must
come out the same whatever the interleaving."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from incentives import ledger, payouts
from incentives.models import LedgerEntry, PayoutLine, PayoutRun, Settlement
from prm.tenancy.roles import Role
from tests import factories
from tests.concurrency import run_together, values

from .conftest import make_plan, make_won_deal
from .test_payouts import book

pytestmark = pytest.mark.django_db(transaction=True)

Status = PayoutRun.Status


def ledger_report() -> str:
    out = StringIO()
    call_command("check_ledger", stdout=out)
    return out.getvalue()


@pytest.fixture
def partners(acme):
    """Twenty partners of acme, each with 100 + i payable and a -10 clawback."""
    with acme.scope():
        made = [acme.partner, acme.other_partner] + [
            factories.make_partner(acme.tenant, f"Concurrent Partner {i}") for i in range(18)
        ]
        for i, partner in enumerate(made):
            book(acme, partner, f"{100 + i}", available_on=date.today() - timedelta(days=1))
            book(acme, partner, "-10", available_on=date.today())
    return made


def approved_run(world) -> PayoutRun:
    """A computed run, approved without running the write task (on_commit
    would run it at once here: each thread below runs it instead)."""
    with world.scope():
        run = payouts.compute_run(
            payouts.start_run(world.tenant, by=world[Role.FINANCE], cutoff=date.today())
        )
        PayoutRun.objects.filter(pk=run.pk).update(
            status=Status.APPROVING,
            approved_by=world[Role.FINANCE].user,
            approved_at=run.created_at,
            partners_total=PayoutLine.objects.filter(run=run).count(),
            partners_done=0,
        )
        return PayoutRun.objects.get(pk=run.pk)


def test_two_workers_writing_the_same_run_pay_each_partner_once(acme, partners):
    run = approved_run(acme)
    results = values(run_together(acme, *[lambda: payouts.write_payouts(run)] * 4))
    assert Status.APPROVED in {r.status for r in results}
    with acme.scope():
        run.refresh_from_db()
        assert run.status == Status.APPROVED
        assert run.partners_done == run.partners_total == len(partners)
        for i, partner in enumerate(partners):
            [payout] = LedgerEntry.objects.filter(partner=partner, kind=LedgerEntry.Kind.PAYOUT)
            assert payout.amount_base == -Decimal(90 + i)
        assert Settlement.objects.filter(run=run).count() == 3 * len(partners)
        assert run.total_payable == sum(Decimal(90 + i) for i in range(len(partners)))
        assert "no differences" in ledger_report()


def test_two_people_starting_a_run_at_once_open_one(acme, partners):
    start = lambda: payouts.start_run(  # noqa: E731
        acme.tenant, by=acme[Role.FINANCE], cutoff=date.today()
    )
    results = run_together(acme, start, start, start)
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["error", "error", "ok"]
    for kind, value in results:
        if kind == "error":
            assert isinstance(value, payouts.PayoutError)
            assert "before starting another run" in str(value)
    with acme.scope():
        [run] = PayoutRun.objects.all()
        # The compute task ran after commit (eager in tests).
        assert run.status == Status.REVIEW
        assert PayoutLine.objects.filter(run=run).count() == len(partners)


def test_approving_twice_at_once_writes_once(acme, partners):
    with acme.scope():
        run = payouts.compute_run(
            payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=date.today())
        )
    checker = acme.second(Role.FINANCE)
    approve = lambda: payouts.approve(run, by=checker)  # noqa: E731
    results = run_together(acme, approve, approve)
    assert sorted(kind for kind, _ in results) == ["error", "ok"]
    error = next(value for kind, value in results if kind == "error")
    assert "it cannot be approved" in str(error)
    with acme.scope():
        run.refresh_from_db()
        assert run.status == Status.APPROVED
        assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYOUT).count() == len(partners)


def test_a_clawback_racing_the_payout_is_either_paid_against_or_left_over(acme):
    """sync_deal and write_payouts serialize on the partner's lock: the
    clawback lands before the payout (and reduces it) or after (and stays
    unsettled for the next run); never half of each."""
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        deal = make_won_deal(acme, "3000", close_date=date.today() - timedelta(days=40))
        ledger.sync_deal(deal)
        book(acme, acme.partner, "500", available_on=date.today())
    run = approved_run(acme)
    with acme.scope():
        deal.status = deal.Status.REVERSED
        deal.save()
    values(run_together(acme, lambda: payouts.write_payouts(run), lambda: ledger.sync_deal(deal)))
    with acme.scope():
        [payout] = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYOUT)
        clawback = LedgerEntry.objects.get(kind=LedgerEntry.Kind.CLAWBACK)
        settled = Settlement.objects.filter(entry=clawback).exists()
        expected = Decimal("-500.00") if settled else Decimal("-800.00")
        assert payout.amount_base == expected
        assert "no differences" in ledger_report()
