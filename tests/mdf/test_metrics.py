"""MDF's metrics (mdf.metrics), read through the declarations and checked
against reporting's rollups (tests.metric_probe.compute), on one story of a
tenant on UTC (business hours 09:00-17:00, Monday to Friday; March 2026 has
no US public holiday):

    budget A (1 Mar - 31 May): acme's partner 10 000, the other 5 000
    budget B (1 Jan - 31 Mar): acme's partner 8 000
    claim 1 (A, partner): cost 4 000, reimbursed 2 000; submitted Mon 2 Mar
            09:00, approved Wed 4 Mar 13:00 (2.5 business days)
    claim 2 (A, other): cost 3 000, reimbursed 1 500; submitted Mon 9 Mar
            09:00, approved 17:00 (1 business day)
    claim 3 (A, partner): rejected; submitted Tue 10 Mar 09:00, decided Mon
            16 Mar 09:00 (4 business days)
    claim 4 (B, partner): cost 1 000, reimbursed 1 000, approved 2 Apr
    claim 1's activity sourced a deal won for 8 000, claim 2's one won for
            6 000; reimbursements 1 and 2 paid by a run marked paid 25 Mar
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from incentives import payouts
from incentives.models import IncentiveSettings
from mdf.models import Claim
from prm.tenancy.declarations import Filters, Period
from prm.tenancy.roles import Role
from tests.metric_probe import APRIL, MARCH, compute, rows

from . import roi_factories as f

pytestmark = pytest.mark.django_db

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))


def utc(month, day, hour=15):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def pay(world, cutoff, moment, paid_on):
    finance = world[Role.FINANCE]
    with time_machine.travel(moment, tick=False), world.scope():
        run = payouts.start_run(world.tenant, by=finance, cutoff=cutoff)
        run = payouts.compute_run(run)
        run = payouts.approve(run, by=world.second(Role.FINANCE))
        run = payouts.write_payouts(run)
    with time_machine.travel(utc(paid_on.month, paid_on.day), tick=False), world.scope():
        return payouts.mark_paid(run, by=finance, reference="BANK-1", paid_on=paid_on)


@pytest.fixture
def story(acme, globex):
    from dealreg.models import DealRegistration

    with acme.scope():
        IncentiveSettings.objects.create(
            tenant=acme.tenant, holding_days=0, minimum_payout=Decimal(0)
        )
        fund = f.make_fund_type(acme, "MDF")
        a = f.make_budget(acme, fund, starts_on=date(2026, 3, 1), ends_on=date(2026, 5, 31))
        b = f.make_budget(acme, fund, starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
        mine_a = f.make_allocation(acme, a, amount="10000")
        theirs_a = f.make_allocation(acme, a, partner=acme.other_partner, amount="5000")
        mine_b = f.make_allocation(acme, b, amount="8000")
        r1 = f.make_request(acme, mine_a)
        c1 = f.make_claim(
            acme,
            r1,
            cost="4000",
            reimbursement="2000",
            submitted_at=utc(3, 2, 9),
            decided_at=utc(3, 4, 13),
        )
        r2 = f.make_request(acme, theirs_a)
        c2 = f.make_claim(
            acme,
            r2,
            cost="3000",
            reimbursement="1500",
            submitted_at=utc(3, 9, 9),
            decided_at=utc(3, 9, 17),
        )
        r3 = f.make_request(acme, mine_a)
        f.make_claim(
            acme,
            r3,
            status=Claim.Status.REJECTED,
            submitted_at=utc(3, 10, 9),
            decided_at=utc(3, 16, 9),
        )
        r4 = f.make_request(acme, mine_b, requested="1000", approved="1000")
        f.make_claim(
            acme,
            r4,
            cost="1000",
            reimbursement="1000",
            submitted_at=utc(3, 30, 9),
            decided_at=utc(4, 2),
        )
        won = DealRegistration.Status.WON
        f.source(acme, f.make_registration(acme, status=won, won="8000"), r1)
        f.source(
            acme,
            f.make_registration(acme, partner=acme.other_partner, status=won, won="6000"),
            r2,
        )
        f.reimburse(acme, c1)
        f.reimburse(acme, c2)
    pay(acme, date(2026, 3, 24), utc(3, 24), date(2026, 3, 25))
    return {"claims": (c1, c2)}


def test_allocated_and_utilization(acme, globex, story):
    assert compute(acme, "mdf.allocated") == Decimal("15000.00")
    assert compute(acme, "mdf.utilization") == Decimal("23.3")  # 3 500 / 15 000
    assert compute(acme, "mdf.allocated", Q1) == Decimal("23000.00")
    assert compute(acme, "mdf.utilization", Q1) == Decimal("19.6")  # 4 500 / 23 000
    assert compute(acme, "mdf.allocated", APRIL) == Decimal("0.00")
    assert compute(acme, "mdf.utilization", APRIL) is None
    assert compute(globex, "mdf.utilization") is None


def test_claimed_spend_and_paid(acme, story):
    assert compute(acme, "mdf.claimed") == Decimal("3500.00")
    assert compute(acme, "mdf.spend") == Decimal("7000.00")
    assert compute(acme, "mdf.paid") == Decimal("3500.00")
    assert compute(acme, "mdf.claimed", APRIL) == Decimal("1000.00")
    assert compute(acme, "mdf.paid", APRIL) == Decimal("0.00")


def test_reimbursements_are_not_incentives(acme, story):
    assert compute(acme, "incentives.paid") == Decimal("0.00")
    assert compute(acme, "incentives.accrued") == Decimal("0.00")
    assert compute(acme, "incentives.outstanding") == Decimal("0.00")
    with acme.scope():
        unpaid = Claim.objects.get(status=Claim.Status.APPROVED, decided_at__month=4)
        f.reimburse(acme, unpaid)  # booked 2 April, not paid yet
    assert compute(acme, "incentives.outstanding", APRIL) == Decimal("0.00")
    assert compute(acme, "incentives.accrued", APRIL) == Decimal("0.00")


def test_claim_turnaround(acme, story):
    assert compute(acme, "mdf.claim_turnaround_median") == Decimal("2.5")
    assert compute(acme, "mdf.claim_turnaround_p90") == Decimal("3.7")
    assert compute(acme, "mdf.claim_turnaround_median", APRIL) is not None
    assert (
        compute(acme, "mdf.claim_turnaround_median", Period(date(2026, 5, 1), date(2026, 5, 31)))
        is None
    )


def test_roi(acme, globex, story):
    assert compute(acme, "mdf.roi") == Decimal("400.0")  # 14 000 won / 3 500 spent
    assert compute(acme, "mdf.roi", APRIL) == Decimal("0.0")
    assert compute(globex, "mdf.roi") is None


def test_filters(acme, story):
    mine = Filters(channel_manager=acme[Role.CHANNEL_MANAGER].user.pk)
    assert compute(acme, "mdf.claimed", filters=mine) == Decimal("2000.00")
    assert compute(acme, "mdf.allocated", filters=mine) == Decimal("10000.00")
    assert compute(acme, "mdf.roi", filters=mine) == Decimal("400.0")  # 8 000 / 2 000
    assert compute(acme, "mdf.paid", filters=mine) == Decimal("2000.00")


def test_rows(acme, story):
    c1, c2 = story["claims"]
    assert rows(acme, "mdf.claimed") == sorted([c1.pk, c2.pk])
    assert len(rows(acme, "mdf.claim_turnaround_median")) == 3
    assert len(rows(acme, "mdf.paid")) == 2
    assert len(rows(acme, "mdf.allocated", MARCH)) == 2


# --- Health ------------------------------------------------------------------------------------


def test_utilization_component(acme, story):
    from mdf.health import utilization

    with acme.scope():
        partners = [acme.partner.pk, acme.other_partner.pk]
        # Budget B (Jan-Mar) has ended: 1 000 claimed (2 April) of 8 000.
        april = utilization(acme.tenant, date(2026, 4, 15), partners)
        first = utilization(acme.tenant, date(2026, 4, 1), partners)
        march = utilization(acme.tenant, date(2026, 3, 20), partners)
        # Budget A (Mar-May) too: 3 000 of 18 000; the other partner 1 500 of 5 000.
        june = utilization(acme.tenant, date(2026, 6, 10), partners)
    assert april[acme.partner.pk].value == Decimal("0.125")
    assert "Claimed 1,000.00 USD of 8,000.00 USD" in april[acme.partner.pk].why
    assert acme.other_partner.pk not in april  # its budget has not ended: no data
    assert first[acme.partner.pk].value == Decimal("0.000")  # not yet approved then
    assert june[acme.partner.pk].value == Decimal("0.167")
    assert june[acme.other_partner.pk].value == Decimal("0.300")
    assert march == {}


def test_funds_expiring_unused(acme):
    from mdf.health import expiring_unused

    with acme.scope():
        fund = f.make_fund_type(acme)
        budget = f.make_budget(acme, fund, starts_on=date(2026, 3, 1), ends_on=date(2026, 5, 31))
        mine = f.make_allocation(acme, budget, amount="10000")
        theirs = f.make_allocation(acme, budget, partner=acme.other_partner, amount="4000")
        f.make_request(acme, mine, decided_at=utc(3, 5))  # 2 000: 20 %
        f.make_request(acme, theirs, requested="1500", approved="1500", decided_at=utc(3, 5))
        partners = [acme.partner.pk, acme.other_partner.pk]
        may = expiring_unused(acme.tenant, date(2026, 5, 10), partners, {})
        april = expiring_unused(acme.tenant, date(2026, 4, 10), partners, {})
    assert set(may) == {acme.partner.pk}
    assert "unused, expiring in 21 days" in may[acme.partner.pk]
    assert april == {}
