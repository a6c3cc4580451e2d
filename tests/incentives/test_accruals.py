"""Accruals from the deal registration workflow: a won deal accrues through
the task after commit; corrections adjust, reversals claw back; eligibility,
SPIFF windows, accelerators and period caps over a sequence of deals;
retries and concurrent runs write each entry once."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from dealreg import services as dealreg
from dealreg.models import DealRegistration
from dealreg.services import DealRegError
from incentives import ledger, rebates, tasks
from incentives.models import DealAccrualState, ExchangeRate, LedgerEntry, Plan, PlanVersion
from partners import tiers
from partners.models import Partner
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role
from tests import factories
from tests.concurrency import run_together, values

from .conftest import make_plan, make_won_deal

D = Decimal
Kind = LedgerEntry.Kind


def net(registration, field="amount"):
    return sum(
        (getattr(e, field) for e in LedgerEntry.objects.filter(registration=registration)), D(0)
    )


@pytest.fixture
def approved(acme, submit_as):
    registration = submit_as(acme)
    with acme.scope():
        return dealreg.approve(registration, by=acme[Role.CHANNEL_MANAGER])


def test_won_in_the_portal_accrues_after_commit(acme, approved, django_capture_on_commit_callbacks):
    with acme.scope():
        make_plan(acme, rate_percent=D("10"))
        with django_capture_on_commit_callbacks(execute=True):
            won = dealreg.record_outcome(
                approved,
                by=acme[Role.PARTNER_USER],
                won=True,
                amount=D("27500.00"),
                close_date=date.today() - timedelta(days=1),
            )
        (entry,) = LedgerEntry.objects.filter(registration=won)
        assert (entry.kind, entry.amount, entry.source) == (Kind.ACCRUAL, D("2750.00"), "deal")
        assert DealAccrualState.objects.get(registration=won).problem == ""

        with pytest.raises(DealRegError, match="Only the vendor"):
            dealreg.correct_outcome(
                won,
                by=acme[Role.PARTNER_ADMIN],
                amount=D("20000"),
                close_date=won.won_close_date,
                reason="Partial refund",
            )
        with pytest.raises(DealRegError, match="Say why"):
            dealreg.correct_outcome(
                won,
                by=acme[Role.CHANNEL_MANAGER],
                amount=D("20000"),
                close_date=won.won_close_date,
                reason=" ",
            )
        with django_capture_on_commit_callbacks(execute=True):
            won = dealreg.correct_outcome(
                won,
                by=acme[Role.CHANNEL_MANAGER],
                amount=D("20000"),
                close_date=won.won_close_date,
                reason="Partial refund",
            )
        assert net(won) == D("2000.00")
        with django_capture_on_commit_callbacks(execute=True):
            reversed_ = dealreg.reverse_win(
                won, by=acme[Role.CHANNEL_MANAGER], reason="Customer cancelled"
            )
        assert reversed_.status == DealRegistration.Status.REVERSED
        assert net(reversed_) == 0 and net(reversed_, "amount_base") == 0
        kinds = list(
            LedgerEntry.objects.filter(registration=won)
            .order_by("created_at", "id")
            .values_list("kind", flat=True)
        )
        assert kinds == [Kind.ACCRUAL, Kind.ADJUSTMENT, Kind.CLAWBACK]
        with pytest.raises(DealRegError, match="reversed cannot be reversed"):
            dealreg.reverse_win(reversed_, by=acme[Role.CHANNEL_MANAGER], reason="again")


def test_missing_rate_is_reported_and_swept_once_the_rate_exists(acme):
    with acme.scope():
        make_plan(acme, rate_percent=D("5"))
        deal = make_won_deal(acme, "2000", currency="EUR", close_date=date(2026, 9, 30))
        assert tasks.sync_deal(tenant_id=str(acme.tenant.pk), registration_id=str(deal.pk)) == 0
        state = DealAccrualState.objects.get(registration=deal)
        assert "No EUR exchange rate is in force on 2026-09-30" in state.problem
        asked = Notification.objects.get(user=acme[Role.FINANCE].user, kind="incentives.no_rate")
        assert asked.needs_action
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2026, 9, 1), rate=D("1.1")
        )
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2026, 10, 1), rate=D("1.2")
        )
        assert tasks.sweep_deals(tenant_id=str(acme.tenant.pk)) >= 1
        (entry,) = LedgerEntry.objects.filter(registration=deal)
        assert (entry.amount, entry.fx_rate, entry.amount_base) == (
            D("100.00"),
            D("1.1"),
            D("110.00"),
        )
        assert DealAccrualState.objects.get(registration=deal).problem == ""
        # Finance's task is done once the deal is accrued.
        asked.refresh_from_db()
        assert not asked.needs_action and asked.read_at is not None
        # Swept again: nothing more.
        tasks.sweep_deals(tenant_id=str(acme.tenant.pk))
        assert LedgerEntry.objects.filter(registration=deal).count() == 1


def test_eligibility_by_tier_type_region_and_product(acme):
    with acme.scope():
        silver = factories.make_tier(acme.tenant, "Platinum", 9)
        from dealreg.models import ProductLine

        edr = ProductLine.objects.create(tenant=acme.tenant, name="Endpoint", code="edr")
        everyone = make_plan(acme, rate_percent=D("1"))
        platinum_only = make_plan(acme, rate_percent=D("2"), tiers=[silver])
        msp_only = make_plan(acme, rate_percent=D("3"), partner_types=[Partner.Type.MSP])
        edr_only = make_plan(acme, rate_percent=D("4"), product_lines=[edr])
        deal = make_won_deal(acme, "1000", close_date=date(2026, 10, 1))
        paid = {e.plan_version_id for e in ledger.sync_deal(deal)}
        assert paid == {everyone.pk}
        # The tier counts as held from the day of the move (tests/incentives/
        # test_tier_effective.py): the second deal closes that day.
        tiers.set_tier(acme.partner, silver, by=None, reason=tiers.Reason.MANUAL)
        acme.partner.partner_type = Partner.Type.MSP
        acme.partner.save()
        moved = acme.tenant.local_today()
        deal2 = make_won_deal(acme, "1000", close_date=moved, products=[edr])
        paid = {e.plan_version_id for e in ledger.sync_deal(deal2)}
        assert paid == {everyone.pk, platinum_only.pk, msp_only.pk, edr_only.pk}


def test_spiff_pays_a_fixed_amount_in_its_window_only(acme):
    with acme.scope():
        spiff = make_plan(
            acme,
            kind=Plan.Kind.SPIFF,
            rate_type=PlanVersion.RateType.FIXED,
            fixed_amount=D("500"),
            effective_from=date(2026, 10, 1),
            effective_to=date(2026, 10, 31),
        )
        inside = make_won_deal(acme, "10", close_date=date(2026, 10, 31))
        outside = make_won_deal(acme, "10", close_date=date(2026, 11, 1))
        (entry,) = ledger.sync_deal(inside)
        assert (entry.source, entry.amount, entry.plan_version) == ("spiff", D("500.00"), spiff)
        assert ledger.sync_deal(outside) == []


def test_accelerator_and_period_cap_over_a_quarter(acme):
    with acme.scope():
        make_plan(
            acme,
            rate_percent=D("10"),
            period="quarter",
            quota=D("100000"),
            accelerator=D("2"),
            cap_per_period=D("15000"),
        )
        amounts = ["60000", "60000", "60000", "60000"]
        got = []
        for i, amount in enumerate(amounts):
            deal = make_won_deal(acme, amount, close_date=date(2026, 10, 1 + i))
            ledger.sync_deal(deal)
            got.append(net(deal))
        # 6,000; then 40,000 below quota (4,000) + 20,000 above at 20% (4,000)
        # = 8,000; then 12,000 uncapped but only 1,000 left under the cap; then 0.
        assert got == [D("6000.00"), D("8000.00"), D("1000.00"), D("0")]
        # A new quarter starts afresh.
        deal = make_won_deal(acme, "60000", close_date=date(2027, 1, 5))
        ledger.sync_deal(deal)
        assert net(deal) == D("6000.00")


def test_versions_split_by_close_date_and_frozen_versions_stay_paid(acme):
    from incentives import plans

    with acme.scope():
        v1 = make_plan(acme, rate_percent=D("10"), effective_from=date(2026, 1, 1))
        old = make_won_deal(acme, "1000", close_date=date(2026, 6, 30))
        ledger.sync_deal(old)
        with pytest.raises(ledger.IncentiveError, match="already paid on deals closed on"):
            v2 = plans.new_draft(v1, by=acme[Role.OPS_ADMIN], effective_from=date(2026, 6, 1))
            plans.publish(v2, by=acme[Role.OPS_ADMIN])
        v3 = plans.new_draft(v1, by=acme[Role.OPS_ADMIN], effective_from=date(2026, 7, 1))
        v3.rate_percent = D("12")
        v3.save()
        plans.publish(v3, by=acme[Role.OPS_ADMIN])
        v1.refresh_from_db()
        assert v1.effective_to == date(2026, 6, 30)
        new = make_won_deal(acme, "1000", close_date=date(2026, 7, 1))
        (entry,) = ledger.sync_deal(new)
        assert (entry.plan_version, entry.amount) == (v3, D("120.00"))
        assert LedgerEntry.objects.get(registration=old).plan_version == v1


@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_write_each_entry_once(acme):
    with acme.scope():
        make_plan(acme, rate_percent=D("10"))
        make_plan(acme, rate_percent=D("1"))
        deal = make_won_deal(acme, "1000", close_date=date(2026, 10, 1))
    results = values(run_together(acme, *[lambda: ledger.sync_deal(deal)] * 6))
    assert sorted(len(r) for r in results) == [0, 0, 0, 0, 0, 2]
    with acme.scope():
        assert LedgerEntry.objects.filter(registration=deal).count() == 2
        # The same key written behind the service's back stays one row.
        entry = LedgerEntry.objects.filter(registration=deal).first()
        again = ledger.write(
            acme.tenant,
            ledger.NewEntry(
                partner_id=entry.partner_id,
                kind=entry.kind,
                amount=D("999"),
                currency="USD",
                fx_rate=D(1),
                source=entry.source,
                effective_date=entry.effective_date,
                available_on=entry.available_on,
                description="duplicate",
                idempotency_key=entry.idempotency_key,
                created_via="test",
            ),
        )
        assert again == entry and again.amount == entry.amount
    connection.close()


def test_rebate_on_period_volume_and_late_deal_correction(acme):
    with acme.scope():
        version = make_plan(
            acme,
            kind=Plan.Kind.REBATE,
            rate_type=PlanVersion.RateType.BRACKETS_MARGINAL,
            rate_percent=None,
            brackets=[("0", "1"), ("100000", "2")],
            period="quarter",
        )
        for amount in ("80000", "70000"):
            make_won_deal(acme, amount, close_date=date(2026, 8, 15))
        start = date(2026, 7, 1)
        entry = rebates.sync_rebate(version, acme.partner, start)
        # 100,000 x 1% + 50,000 x 2% = 2,000
        assert (entry.kind, entry.amount, entry.basis_amount) == (
            Kind.ACCRUAL,
            D("2000.00"),
            D("150000.00"),
        )
        assert rebates.sync_rebate(version, acme.partner, start) is None
        make_won_deal(acme, "10000", close_date=date(2026, 9, 30))
        late = rebates.sync_rebate(version, acme.partner, start)
        assert (late.kind, late.amount) == (Kind.ADJUSTMENT, D("200.00"))
        # Deals do not accrue per deal on a rebate plan.
        assert not LedgerEntry.objects.filter(registration__isnull=False).exists()
