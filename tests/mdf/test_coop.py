"""Co-op accruals: a share of each won deal accrues to the partner's
allocation, reversed with the win; exactly once however often it runs."""

import datetime as dt
from decimal import Decimal

import pytest

from dealreg.models import DealRegistration
from mdf import funds
from mdf.models import Allocation, CoopAccrual, FundType
from prm.tenancy.roles import Role
from tests.incentives.conftest import make_won_deal

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal


def coop(world, budget_amount=None):
    fund = b.fund_type(world, "Co-op", funding=FundType.Funding.ACCRUAL, accrual_percent=D("2"))
    today = world.tenant.local_today()
    from mdf import periods

    year, number = periods.period_of(world.tenant, "year", today)
    return funds.create_budget(
        world.tenant,
        by=world[Role.OPS_ADMIN],
        fund_type=fund,
        span="year",
        fiscal_year=year,
        number=number,
        amount=budget_amount or D("100000"),
    )


def test_a_won_deal_accrues_once_and_a_reversal_takes_it_back(acme):
    with acme.scope():
        budget = coop(acme)
        deal = make_won_deal(acme, "50000.00")
        funds.sync_coop(deal)
        funds.sync_coop(deal)
        alloc = Allocation.objects.get(budget=budget, partner=acme.partner)
        assert alloc.amount == D("1000.00") and alloc.source == "accrual"
        assert CoopAccrual.objects.count() == 1
        DealRegistration.objects.filter(pk=deal.pk).update(won_amount=D("60000"))
        funds.sync_coop(deal)
        alloc.refresh_from_db()
        assert alloc.amount == D("1200.00")
        DealRegistration.objects.filter(pk=deal.pk).update(status="reversed")
        funds.sync_coop(deal)
        funds.sync_coop(deal)
        alloc.refresh_from_db()
        assert alloc.amount == 0
        assert sum(r.amount for r in CoopAccrual.objects.all()) == 0
        budget.refresh_from_db()
        assert budget.allocated == 0


def test_accruals_stop_at_the_budget(acme):
    with acme.scope():
        budget = coop(acme, D("500"))
        funds.sync_coop(make_won_deal(acme, "50000.00"))
        budget.refresh_from_db()
        assert budget.allocated == D("500")


def test_a_reversal_never_takes_back_what_was_already_spent(acme):
    with acme.scope():
        budget = coop(acme)
        deal = make_won_deal(acme, "100000.00")
        funds.sync_coop(deal)
        alloc = Allocation.objects.get(budget=budget)
        b.approved(acme, alloc, amount=D("1500"), cost=D("4000"))
        DealRegistration.objects.filter(pk=deal.pk).update(status="reversed")
        funds.sync_coop(deal)
        alloc.refresh_from_db()
        assert (alloc.amount, alloc.reserved) == (D("1500"), D("1500"))


def test_no_budget_no_accrual(acme):
    with acme.scope():
        coop(acme)
        deal = make_won_deal(acme, "1000.00", close_date=dt.date(2020, 1, 1))
        assert funds.sync_coop(deal) == []
