"""Payout runs as finance runs them (incentives.payouts): what is payable at
a cutoff (holding period, minimum, negative balances), holds, approval
writing each payout exactly once, paid runs and the accounts-payable rows.
The helpers at the top are shared with the other payout test modules."""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from incentives import ledger, payouts
from incentives.ledger import NewEntry
from incentives.models import IncentiveSettings, LedgerEntry, PayoutLine, PayoutRun, Settlement
from incentives.payout_tasks import resume_stalled_runs
from incentives.payouts import computing
from prm.tenancy.models import AuditEntry, Notification
from prm.tenancy.roles import Role
from tests import factories

from .conftest import make_plan, make_won_deal

Kind = LedgerEntry.Kind
Status = PayoutRun.Status
Line = PayoutLine.Status
TODAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def _frozen_clock():
    """Today is 15 June 2026 (tests move on with ``now=`` or travel)."""
    with time_machine.travel(NOW, tick=False):
        yield


def book(world, partner, amount, *, available_on, effective_date=None, kind=None, key=None):
    """An entry in the base currency (an accrual if positive, else a clawback),
    written through the ledger like every other entry."""
    amount = Decimal(amount)
    if kind is None:
        kind = Kind.ACCRUAL if amount >= 0 else Kind.CLAWBACK
    return ledger.write(
        world.tenant,
        NewEntry(
            partner_id=partner.pk,
            kind=kind,
            amount=amount,
            currency=world.tenant.base_currency,
            fx_rate=Decimal(1),
            source=LedgerEntry.Source.MANUAL,
            effective_date=effective_date or available_on,
            available_on=available_on,
            description=f"Test {kind} {amount}",
            idempotency_key=key or f"test:{next(_keys)}",
            created_via="test",
        ),
    )


def computed(world, cutoff=TODAY, *, now=None) -> PayoutRun:
    """A run started and computed (the task's body, called directly)."""
    run = payouts.start_run(world.tenant, by=world[Role.FINANCE], cutoff=cutoff, now=now)
    return payouts.compute_run(run)


def paid_out(world, run: PayoutRun, *, now=None) -> PayoutRun:
    """Approve and write the payouts (the task's body, called directly)."""
    run = payouts.approve(run, by=world.second(Role.FINANCE), now=now)
    return payouts.write_payouts(run, now=now)


def lines(run) -> dict:
    return {line.partner_id: line for line in PayoutLine.objects.filter(run=run)}


def payouts_of(partner) -> list[LedgerEntry]:
    return list(
        LedgerEntry.objects.filter(partner=partner, kind=Kind.PAYOUT).order_by("created_at")
    )


def ledger_is_clean() -> str:
    from io import StringIO

    out = StringIO()
    call_command("check_ledger", stdout=out)
    return out.getvalue()


# --- What is payable ----------------------------------------------------------------------


def test_holding_period_leaves_accruals_for_a_later_run(acme):
    with acme.scope():
        IncentiveSettings.objects.filter(tenant=acme.tenant).delete()
        IncentiveSettings.objects.create(tenant=acme.tenant, holding_days=30, minimum_payout=0)
        make_plan(acme, rate_percent=Decimal("10"))
        old = make_won_deal(acme, "1000", close_date=TODAY - timedelta(days=45))
        recent = make_won_deal(acme, "2000", close_date=TODAY - timedelta(days=10))
        ledger.sync_deal(old)
        ledger.sync_deal(recent)

        run = computed(acme)
        (line,) = lines(run).values()
        assert (line.partner_id, line.payable, line.entry_count) == (
            acme.partner.pk,
            Decimal("100.00"),
            1,
        )
        assert line.status == Line.READY
        run = paid_out(acme, run)
        assert run.status == Status.APPROVED
        [payout] = payouts_of(acme.partner)
        assert payout.amount_base == Decimal("-100.00")

        # The recent deal's accrual is available 30 days after its close.
        later = NOW + timedelta(days=20)
        too_early = computed(acme, TODAY + timedelta(days=19), now=later)
        assert lines(too_early) == {}
        assert too_early.status == Status.REVIEW
        payouts.cancel(too_early, by=acme[Role.FINANCE], reason="Nothing to pay yet")
        next_run = computed(acme, TODAY + timedelta(days=20), now=later)
        assert lines(next_run)[acme.partner.pk].payable == Decimal("200.00")
        paid_out(acme, next_run, now=later)
        assert [p.amount_base for p in payouts_of(acme.partner)] == [
            Decimal("-100.00"),
            Decimal("-200.00"),
        ]
        assert "no differences" in ledger_is_clean()


def test_cutoff_includes_entries_available_that_day_and_not_after(acme):
    with acme.scope():
        book(acme, acme.partner, "60", available_on=TODAY - timedelta(days=1))
        book(acme, acme.partner, "70", available_on=TODAY - timedelta(days=2))
        book(acme, acme.partner, "80", available_on=TODAY)
        run = computed(acme, TODAY - timedelta(days=1))
        line = lines(run)[acme.partner.pk]
        assert (line.payable, line.entry_count) == (Decimal("130.00"), 2)
        paid_out(acme, run)
        settled = set(
            Settlement.objects.filter(run=run)
            .exclude(entry__kind=Kind.PAYOUT)
            .values_list("entry__amount", flat=True)
        )
        assert settled == {Decimal("60.00"), Decimal("70.00")}


def test_cutoff_in_the_future_is_refused(acme):
    with acme.scope():
        with pytest.raises(payouts.PayoutError, match="cannot be in the future") as caught:
            payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=TODAY + timedelta(days=1))
        assert caught.value.field == "cutoff"
        assert not PayoutRun.objects.exists()


def test_cutoff_is_the_tenants_local_date(acme):
    """At 23:30 UTC it is already tomorrow in Auckland."""
    acme.tenant.timezone = "Pacific/Auckland"
    acme.tenant.save()
    with acme.scope():
        run = payouts.start_run(
            acme.tenant,
            by=acme[Role.FINANCE],
            cutoff=TODAY + timedelta(days=1),
            now=datetime(2026, 6, 15, 23, 30, tzinfo=UTC),
        )
        assert run.cutoff == TODAY + timedelta(days=1)


def test_minimum_payout_carries_small_balances_forward(acme):
    with acme.scope():
        assert IncentiveSettings.for_tenant(acme.tenant).minimum_payout == Decimal("50")
        book(acme, acme.partner, "30", available_on=TODAY - timedelta(days=5))
        book(acme, acme.other_partner, "50", available_on=TODAY - timedelta(days=5))
        run = computed(acme)
        assert run.minimum_payout == Decimal("50")
        found = lines(run)
        assert found[acme.partner.pk].status == Line.BELOW_MINIMUM
        assert found[acme.other_partner.pk].status == Line.READY  # exactly the minimum
        assert run.total_payable == Decimal("50.00")
        paid_out(acme, run)
        assert payouts_of(acme.partner) == []
        assert lines(run)[acme.partner.pk].status == Line.BELOW_MINIMUM

        # Once above the minimum, the carried 30 is paid with the new 40.
        later = NOW + timedelta(days=7)
        book(acme, acme.partner, "40", available_on=TODAY + timedelta(days=3))
        second = computed(acme, TODAY + timedelta(days=7), now=later)
        line = lines(second)[acme.partner.pk]
        assert (line.status, line.payable, line.entry_count) == (Line.READY, Decimal("70.00"), 2)
        paid_out(acme, second, now=later)
        [payout] = payouts_of(acme.partner)
        assert payout.amount_base == Decimal("-70.00")
        assert Settlement.objects.filter(payout=payout).count() == 3  # two entries and itself


def test_negative_balance_is_not_paid_and_nets_against_later_earnings(acme):
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY - timedelta(days=10))
        book(acme, acme.partner, "-150", available_on=TODAY - timedelta(days=2))
        book(acme, acme.other_partner, "500", available_on=TODAY - timedelta(days=2))
        run = computed(acme)
        line = lines(run)[acme.partner.pk]
        assert (line.status, line.payable) == (Line.NEGATIVE, Decimal("-50.00"))
        assert run.total_payable == Decimal("500.00")  # negative lines do not reduce it
        paid_out(acme, run)
        assert payouts_of(acme.partner) == []
        assert not Settlement.objects.filter(partner=acme.partner).exists()

        later = NOW + timedelta(days=5)
        book(acme, acme.partner, "120", available_on=TODAY + timedelta(days=1))
        second = computed(acme, TODAY + timedelta(days=5), now=later)
        assert lines(second)[acme.partner.pk].payable == Decimal("70.00")
        paid_out(acme, second, now=later)
        [payout] = payouts_of(acme.partner)
        assert payout.amount_base == Decimal("-70.00")
        assert "no differences" in ledger_is_clean()


def test_clawback_after_a_payout_is_taken_from_the_next_one(acme):
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        deal = make_won_deal(acme, "2000", close_date=TODAY - timedelta(days=40))
        ledger.sync_deal(deal)
        paid_out(acme, computed(acme))
        assert [p.amount_base for p in payouts_of(acme.partner)] == [Decimal("-200.00")]
        # The deal is refunded after it was paid: the clawback is due at once.
        deal.status = deal.Status.REVERSED
        deal.save()
        ledger.sync_deal(deal)
        book(acme, acme.partner, "500", available_on=TODAY)
        run = computed(acme)
        assert lines(run)[acme.partner.pk].payable == Decimal("300.00")


def test_partners_with_nothing_payable_get_no_line(acme):
    with acme.scope():
        book(acme, acme.partner, "80", available_on=TODAY)
        book(acme, acme.partner, "-80", available_on=TODAY)
        run = computed(acme)
        assert lines(run) == {}
        assert (run.status, run.partners_total, run.total_payable) == (Status.REVIEW, 0, 0)


def test_entries_in_other_currencies_count_in_the_base_currency(acme):
    with acme.scope():
        ledger.write(
            acme.tenant,
            NewEntry(
                partner_id=acme.partner.pk,
                kind=Kind.ACCRUAL,
                amount=Decimal("100.00"),
                currency="EUR",
                fx_rate=Decimal("1.0837"),
                source=LedgerEntry.Source.MANUAL,
                effective_date=TODAY,
                available_on=TODAY,
                description="EUR accrual",
                idempotency_key="eur-accrual",
                created_via="test",
            ),
        )
        book(acme, acme.partner, "10", available_on=TODAY)
        run = paid_out(acme, computed(acme))
        [payout] = payouts_of(acme.partner)
        assert (payout.amount, payout.currency, payout.amount_base) == (
            Decimal("-118.37"),
            "USD",
            Decimal("-118.37"),
        )
        assert run.total_payable == Decimal("118.37")


# --- Runs -----------------------------------------------------------------------------------


def test_start_run_computes_through_the_task_after_commit(acme, django_capture_on_commit_callbacks):
    with acme.scope():
        book(acme, acme.partner, "75", available_on=TODAY)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            run = payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=TODAY)
        assert len(callbacks) == 1
        assert run.reference == "PR-2026-0001"
        run.refresh_from_db()
        assert (run.status, run.partners_total, run.partners_done) == (Status.REVIEW, 1, 1)
        assert run.total_payable == Decimal("75.00")
        assert run.currency == "USD"
        assert AuditEntry.objects.filter(
            action="incentives.payout_run_started", object_id=str(run.pk)
        ).exists()


def test_approve_writes_payouts_through_the_task_after_commit(
    acme, django_capture_on_commit_callbacks
):
    with acme.scope():
        book(acme, acme.partner, "75", available_on=TODAY)
        run = computed(acme)
        with django_capture_on_commit_callbacks(execute=True):
            payouts.approve(run, by=acme.second(Role.FINANCE))
        run.refresh_from_db()
        assert run.status == Status.APPROVED
        assert run.approved_by == acme.second(Role.FINANCE).user
        [payout] = payouts_of(acme.partner)
        assert payout.idempotency_key == f"payout:{run.pk}:{acme.partner.pk}"
        assert (payout.source, payout.payout_run_id, payout.fx_rate) == (
            LedgerEntry.Source.PAYOUT_RUN,
            run.pk,
            1,
        )
        assert lines(run)[acme.partner.pk].payout_entry == payout


def test_one_open_run_per_tenant(acme, globex):
    with acme.scope():
        first = computed(acme)
        with pytest.raises(payouts.PayoutError, match=f"{first.reference} is still in review"):
            payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=TODAY)
        assert PayoutRun.objects.count() == 1
    with globex.scope():  # another tenant's runs are its own
        assert computed(globex).reference == "PR-2026-0001"
    with acme.scope():
        payouts.cancel(first, by=acme[Role.FINANCE], reason="Wrong cutoff")
        second = payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=TODAY)
        assert second.reference == "PR-2026-0002"


def test_cancel_needs_a_reason_and_is_only_before_approval(acme):
    with acme.scope():
        book(acme, acme.partner, "75", available_on=TODAY)
        run = computed(acme)
        with pytest.raises(payouts.PayoutError, match="reason") as caught:
            payouts.cancel(run, by=acme[Role.FINANCE], reason="  ")
        assert caught.value.field == "reason"
        paid_out(acme, run)
        with pytest.raises(payouts.PayoutError, match="approved; it cannot be cancelled"):
            payouts.cancel(run, by=acme[Role.FINANCE], reason="Too late")
        assert PayoutRun.objects.get(pk=run.pk).status == Status.APPROVED


def test_approve_needs_a_ready_partner_and_review(acme):
    with acme.scope():
        book(acme, acme.partner, "10", available_on=TODAY)
        run = computed(acme)
        with pytest.raises(payouts.PayoutError, match="No partner is ready to be paid"):
            payouts.approve(run, by=acme.second(Role.FINANCE))
        payouts.cancel(run, by=acme[Role.FINANCE], reason="Nothing to pay")
        with pytest.raises(payouts.PayoutError, match="cancelled; it cannot be approved"):
            payouts.approve(run, by=acme.second(Role.FINANCE))


@pytest.mark.parametrize(
    "role", [Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.EXECUTIVE, Role.PARTNER_ADMIN]
)
def test_only_finance_runs_payouts(acme, role):
    with acme.scope():
        book(acme, acme.partner, "75", available_on=TODAY)
        who = acme[role]
        with pytest.raises(payouts.PayoutError, match="Only finance may start"):
            payouts.start_run(acme.tenant, by=who, cutoff=TODAY)
        run = computed(acme)
        line = PayoutLine.objects.get(run=run)
        with pytest.raises(payouts.PayoutError, match="Only finance may hold"):
            payouts.set_hold(line, by=who, hold=True, reason="x")
        with pytest.raises(payouts.PayoutError, match="Only finance may approve"):
            payouts.approve(run, by=who)
        with pytest.raises(payouts.PayoutError, match="Only finance may cancel"):
            payouts.cancel(run, by=who, reason="x")
        paid_out(acme, run)
        with pytest.raises(payouts.PayoutError, match="Only finance may mark"):
            payouts.mark_paid(run, by=who, reference="X")
        assert PayoutRun.objects.get(pk=run.pk).status == Status.APPROVED


def test_another_tenants_finance_cannot_act_on_a_run(acme, globex):
    with acme.scope():
        run = computed(acme)
    with pytest.raises(payouts.PayoutError):
        payouts.cancel(run, by=globex[Role.FINANCE], reason="Not mine")
    with pytest.raises(payouts.PayoutError):
        payouts.start_run(acme.tenant, by=globex[Role.FINANCE], cutoff=TODAY)


def test_runs_only_see_their_tenants_ledger(acme, globex):
    with acme.scope():
        book(acme, acme.partner, "300", available_on=TODAY)
    with globex.scope():
        book(globex, globex.partner, "90", available_on=TODAY)
        run = computed(globex)
        assert set(lines(run)) == {globex.partner.pk}
        assert run.total_payable == Decimal("90.00")


# --- Review ---------------------------------------------------------------------------------


def test_hold_and_release(acme):
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        book(acme, acme.other_partner, "200", available_on=TODAY)
        run = computed(acme)
        line = lines(run)[acme.partner.pk]
        finance = acme[Role.FINANCE]
        with pytest.raises(payouts.PayoutError, match="Give the reason") as caught:
            payouts.set_hold(line, by=finance, hold=True, reason=" ")
        assert caught.value.field == "reason"
        held = payouts.set_hold(line, by=finance, hold=True, reason="Bank details unverified")
        assert (held.status, held.hold_reason) == (Line.HOLD, "Bank details unverified")
        assert PayoutRun.objects.get(pk=run.pk).total_payable == Decimal("200.00")
        with pytest.raises(payouts.PayoutError, match="already on hold"):
            payouts.set_hold(line, by=finance, hold=True, reason="Again")
        released = payouts.set_hold(line, by=finance, hold=False)
        assert (released.status, released.hold_reason) == (Line.READY, "")
        assert PayoutRun.objects.get(pk=run.pk).total_payable == Decimal("300.00")
        with pytest.raises(payouts.PayoutError, match="is not on hold"):
            payouts.set_hold(line, by=finance, hold=False)

        payouts.set_hold(line, by=finance, hold=True, reason="Under audit")
        run = paid_out(acme, run)
        assert payouts_of(acme.partner) == []  # held: carries forward
        assert [p.amount_base for p in payouts_of(acme.other_partner)] == [Decimal("-200.00")]
        assert run.total_payable == Decimal("200.00")
        with pytest.raises(payouts.PayoutError, match="only a run in review"):
            payouts.set_hold(line, by=finance, hold=False)
        actions = set(
            AuditEntry.objects.filter(object_id=str(run.pk)).values_list("action", flat=True)
        )
        assert {"incentives.payout_line_held", "incentives.payout_line_released"} <= actions


def test_releasing_a_line_below_the_minimum_keeps_it_unpaid(acme):
    with acme.scope():
        book(acme, acme.partner, "20", available_on=TODAY)
        run = computed(acme)
        line = lines(run)[acme.partner.pk]
        payouts.set_hold(line, by=acme[Role.FINANCE], hold=True, reason="Check")
        released = payouts.set_hold(line, by=acme[Role.FINANCE], hold=False)
        assert released.status == Line.BELOW_MINIMUM


# --- Writing payouts exactly once ---------------------------------------------------------------


def test_write_payouts_twice_writes_each_payout_once(acme):
    with acme.scope():
        partners = [acme.partner, acme.other_partner] + [
            factories.make_partner(acme.tenant, f"Extra Partner {i}") for i in range(3)
        ]
        for i, partner in enumerate(partners):
            book(acme, partner, f"{100 + i}", available_on=TODAY - timedelta(days=3))
            book(acme, partner, "-10", available_on=TODAY)
        run = payouts.approve(computed(acme), by=acme.second(Role.FINANCE))
        first = payouts.write_payouts(run)
        assert first.status == Status.APPROVED
        PayoutRun.objects.filter(pk=run.pk).update(status=Status.APPROVING)  # a retried task
        again = payouts.write_payouts(run)
        assert again.status == Status.APPROVED
        for i, partner in enumerate(partners):
            [payout] = payouts_of(partner)
            assert payout.amount_base == Decimal(f"{90 + i}.00") * -1
        assert Settlement.objects.filter(run=run).count() == len(partners) * 3
        assert again.partners_done == again.partners_total == len(partners)
        assert again.total_payable == sum(Decimal(90 + i) for i in range(len(partners)))


def test_a_payout_written_before_a_crash_is_linked_not_written_again(acme):
    """The entry and its settlements commit with the line; should a line
    ever lack its entry, the idempotency key finds it."""
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        run = payouts.approve(computed(acme), by=acme.second(Role.FINANCE))
        payouts.write_payouts(run)
        line = lines(run)[acme.partner.pk]
        PayoutLine.objects.filter(pk=line.pk).update(payout_entry=None, status=Line.READY)
        PayoutRun.objects.filter(pk=run.pk).update(status=Status.APPROVING)
        payouts.write_payouts(run)
        assert len(payouts_of(acme.partner)) == 1
        assert lines(run)[acme.partner.pk].payout_entry == payouts_of(acme.partner)[0]


def test_a_clawback_arriving_during_review_is_netted_when_writing(acme):
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        book(acme, acme.other_partner, "100", available_on=TODAY)
        run = computed(acme)
        book(acme, acme.partner, "-30", available_on=TODAY)  # after review, before approval
        book(acme, acme.other_partner, "-70", available_on=TODAY)
        run = paid_out(acme, run)
        assert [p.amount_base for p in payouts_of(acme.partner)] == [Decimal("-70.00")]
        assert payouts_of(acme.other_partner) == []
        found = lines(run)
        assert (found[acme.partner.pk].status, found[acme.partner.pk].payable) == (
            Line.PAID_OUT,
            Decimal("70.00"),
        )
        assert (found[acme.other_partner.pk].status, found[acme.other_partner.pk].payable) == (
            Line.BELOW_MINIMUM,
            Decimal("30.00"),
        )
        assert run.total_payable == Decimal("70.00")
        assert "no differences" in ledger_is_clean()


def test_entries_paid_by_one_run_are_not_paid_by_the_next(acme):
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        paid_out(acme, computed(acme))
        run = computed(acme)
        assert lines(run) == {}


# --- Failures and stalled workers --------------------------------------------------------------


def test_a_failing_task_marks_the_run_failed_and_retry_finishes_it(
    acme, monkeypatch, django_capture_on_commit_callbacks
):
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        real = payouts.compute_run

        def broken(run, **kwargs):
            raise RuntimeError("database went away")

        monkeypatch.setattr(payouts, "compute_run", broken)
        with django_capture_on_commit_callbacks(execute=True):
            run = payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=TODAY)
        run.refresh_from_db()
        assert run.status == Status.FAILED
        assert "RuntimeError: database went away" in run.error
        monkeypatch.setattr(payouts, "compute_run", real)
        with django_capture_on_commit_callbacks(execute=True):
            payouts.retry(run, by=acme[Role.FINANCE])
        run.refresh_from_db()
        assert (run.status, run.error, run.total_payable) == (Status.REVIEW, "", Decimal("100"))


def test_a_run_that_failed_while_writing_blocks_new_runs_until_retried(acme, monkeypatch):
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        run = payouts.approve(computed(acme), by=acme.second(Role.FINANCE))
        payouts.record_failure(run, RuntimeError("worker lost its connection"))
        with pytest.raises(payouts.PayoutError, match="failed while writing payouts; retry it"):
            payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=TODAY)
        with pytest.raises(payouts.PayoutError, match="retry it instead"):
            payouts.cancel(run, by=acme[Role.FINANCE], reason="Give up")
        run = payouts.retry(run, by=acme[Role.FINANCE])
        assert run.status == Status.APPROVING
        assert payouts.write_payouts(run).status == Status.APPROVED


def test_resume_stalled_runs_finishes_runs_whose_worker_died(acme):
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        stuck = payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=TODAY)
        # The compute task never ran (its worker died): nothing to resume yet.
        assert resume_stalled_runs() == 0
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
        assert resume_stalled_runs() == 1  # eager in tests: computed at once
    with acme.scope():
        stuck.refresh_from_db()
        assert stuck.status == Status.REVIEW
        payouts.approve(stuck, by=acme.second(Role.FINANCE))
    with time_machine.travel(NOW + timedelta(minutes=12), tick=False):
        assert resume_stalled_runs() == 1
        assert resume_stalled_runs() == 0
    with acme.scope():
        stuck.refresh_from_db()
        assert stuck.status == Status.APPROVED
        assert len(payouts_of(acme.partner)) == 1


def test_compute_run_again_rebuilds_the_same_lines(acme):
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        run = payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=TODAY)
        payouts.compute_run(run)
        PayoutRun.objects.filter(pk=run.pk).update(status=Status.COMPUTING)  # a retried task
        run = payouts.compute_run(run)
        assert PayoutLine.objects.filter(run=run).count() == 1
        assert payouts.compute_run(run).status == Status.REVIEW  # in review: left alone
        assert PayoutLine.objects.filter(run=run).count() == 1


def test_a_computation_taken_over_by_another_worker_stops_and_leaves_its_lines(acme):
    """Only transaction-level locks: the worker computing a run is known by
    the heartbeat it last wrote. A second worker's claim replaces it; the
    first finds that at its next chunk and writes nothing more."""
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        book(acme, acme.other_partner, "50", available_on=TODAY)
        run = payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=TODAY)
        _first, first_stamp = computing.claim_computation(run.pk)  # then it stalls
        second = payouts.compute_run(run)  # resume_stalled_runs' worker
        assert second.status == Status.REVIEW
        assert computing.still_computing(run.pk, first_stamp) is None
        PayoutRun.objects.filter(pk=run.pk).update(status=Status.COMPUTING)
        assert computing.still_computing(run.pk, first_stamp) is None  # still not its own
        assert PayoutLine.objects.filter(run=run).count() == 2


# --- Paid ---------------------------------------------------------------------------------------


def test_mark_paid_records_close_to_paid_days_and_tells_partner_admins(acme):
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        close = TODAY - timedelta(days=35)
        deal = make_won_deal(acme, "1000", close_date=close)
        ledger.sync_deal(deal)
        book(acme, acme.partner, "-20", available_on=TODAY)
        run = paid_out(acme, computed(acme))
        finance = acme[Role.FINANCE]
        with pytest.raises(payouts.PayoutError, match="Enter the payment reference") as caught:
            payouts.mark_paid(run, by=finance, reference="   ")
        assert caught.value.field == "reference"
        with pytest.raises(payouts.PayoutError, match="cannot be in the future"):
            payouts.mark_paid(run, by=finance, reference="B-1", paid_on=TODAY + timedelta(days=1))
        with pytest.raises(payouts.PayoutError, match="before the approval"):
            payouts.mark_paid(run, by=finance, reference="B-1", paid_on=TODAY - timedelta(days=1))
        assert PayoutRun.objects.get(pk=run.pk).status == Status.APPROVED

        later = NOW + timedelta(days=2)
        run = payouts.mark_paid(
            run,
            by=finance,
            reference="  BATCH-2026-06  ",
            paid_on=TODAY + timedelta(days=1),
            now=later,
        )
        assert (run.status, run.payment_reference, run.paid_by) == (
            Status.PAID,
            "BATCH-2026-06",
            finance.user,
        )
        accrual = Settlement.objects.get(entry__kind=Kind.ACCRUAL)
        assert accrual.paid_on == TODAY + timedelta(days=1)
        assert accrual.days_close_to_paid == 36
        clawback = Settlement.objects.get(entry__kind=Kind.CLAWBACK)
        assert (clawback.paid_on, clawback.days_close_to_paid) == (TODAY + timedelta(days=1), None)
        [note] = Notification.objects.filter(kind="incentives.payout_sent")
        assert note.user == acme[Role.PARTNER_ADMIN].user
        assert "80.00 USD" in note.title
        assert "BATCH-2026-06" in note.body
        # The link opens the statement that shows the payout line.
        payout = LedgerEntry.objects.get(kind=Kind.PAYOUT)
        assert note.url == f"/incentives/statement/?period={payout.statement_start:%Y-%m-%d}"
        page = acme.client(Role.PARTNER_ADMIN).get(note.url)
        assert page.status_code == 200
        assert payout.description and payout.description in page.content.decode()
        with pytest.raises(payouts.PayoutError, match="paid; it cannot be marked paid"):
            payouts.mark_paid(run, by=finance, reference="again")


def test_ap_rows(acme):
    with acme.scope():
        acme.partner.legal_name = "Acme Reseller One Ltd"
        acme.partner.country = "GB"
        acme.partner.save()
        book(acme, acme.partner, "1234.5", available_on=TODAY)
        book(acme, acme.other_partner, "20", available_on=TODAY)  # below minimum: not exported
        run = paid_out(acme, computed(acme))
        [row] = list(payouts.ap_rows(run))
        assert row == {
            "partner": acme.partner.name,
            "legal_name": "Acme Reseller One Ltd",
            "partner_id": str(acme.partner.pk),
            "country": "GB",
            "amount": Decimal("1234.50"),
            "currency": "USD",
            "run": run.reference,
            "cutoff": TODAY,
            "payment_reference": "",
            "status": "Approved",
        }
        payouts.mark_paid(run, by=acme[Role.FINANCE], reference="AP-77")
        [row] = list(payouts.ap_rows(PayoutRun.objects.get(pk=run.pk)))
        assert (row["payment_reference"], row["status"]) == ("AP-77", "Paid")


def test_heartbeat_moves_while_writing(acme):
    with acme.scope():
        book(acme, acme.partner, "100", available_on=TODAY)
        run = payouts.approve(computed(acme), by=acme.second(Role.FINANCE))
        before = run.heartbeat_at
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False), acme.scope():
        run = payouts.write_payouts(run)
        assert run.heartbeat_at == timezone.now() > before
