"""MDF's tier rules use the tier a partner held on the budget's first day
(tiers are effective-dated): the per-tier allocation rule, a budget limited
to a tier (by hand, by rule, by CSV import) and co-op accruals."""

import datetime as dt
from decimal import Decimal

import pytest

from mdf import allocation_import, funds, periods
from mdf.errors import MdfError
from mdf.models import Allocation, FundType
from partners import tiers
from partners.models import Partner, Tier, TierChange
from prm import format as fmt
from prm.tenancy.roles import Role
from tests import factories
from tests.incentives.conftest import make_won_deal

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def make_budget(world, fund, span="quarter", **extra):
    """The budget of ``span`` holding today."""
    year, number = periods.period_of(world.tenant, span, world.tenant.local_today())
    return funds.create_budget(
        world.tenant,
        by=world[Role.OPS_ADMIN],
        fund_type=fund,
        span=span,
        fiscal_year=year,
        number=number,
        amount=D("100000"),
        **extra,
    )


@pytest.fixture
def story(acme):
    """Three partners around the quarter's first day S:

    * ``stayed`` (acme.partner): Gold on S, Silver from S + 5 (today's tier);
    * ``left`` (acme.other_partner): Silver from S - 10 (Gold before);
    * ``joined``: Silver, Gold from S itself."""
    with acme.scope():
        silver, gold = Tier.objects.get(name="Silver"), Tier.objects.get(name="Gold")
        joined = factories.make_partner(acme.tenant, "Joined Gold On Day One", tier=silver)
        TierChange.objects.update(effective_on=dt.date(2024, 1, 1))  # rows from the real 'now'
        fund = b.fund_type(acme)
        start = make_budget(acme, fund).starts_on
        move = tiers.set_tier
        manual = tiers.Reason.MANUAL
        move(acme.partner, silver, by=None, reason=manual, now=noon(start + dt.timedelta(days=5)))
        move(acme.other_partner, silver, by=None, reason=manual, now=noon(start - dt.timedelta(10)))
        move(joined, gold, by=None, reason=manual, now=noon(start))
    return {
        "silver": silver,
        "gold": gold,
        "fund": fund,
        "stayed": acme.partner,
        "left": acme.other_partner,
        "joined": joined,
    }


def budget_of(story):
    return funds.Budget.objects.get(fund_type=story["fund"], tier__isnull=True)


def test_the_per_tier_rule_pays_the_tier_held_on_the_budgets_first_day(acme, story):
    with acme.scope():
        budget = budget_of(story)
        gold, silver = story["gold"], story["silver"]
        assert story["stayed"].tier == silver  # today's tier: not what decides
        plan = funds.plan_per_tier(budget, {gold.pk: D("600"), silver.pk: D("250")})
        amounts = {p.name: a for p, a in plan.rows}
        assert amounts == {
            story["stayed"].name: D("600.00"),
            story["left"].name: D("250.00"),
            story["joined"].name: D("600.00"),
        }
        assert {p.name: p.budget_tier for p, _ in plan.rows}[story["stayed"].name] == gold
        only_gold = funds.plan_per_tier(budget, {gold.pk: D("600")})
        assert [(p.name, why) for p, why in only_gold.skipped] == [
            (story["left"].name, "no amount for its tier")
        ]


def test_a_budget_limited_to_a_tier_takes_the_partners_in_it_on_its_first_day(acme, story):
    with acme.scope():
        gold = story["gold"]
        fund = b.fund_type(acme, "Gold MDF")
        budget = make_budget(acme, fund, tier=gold)
        plan = funds.plan_per_tier(budget, {gold.pk: D("1000")})
        assert sorted(p.name for p, _ in plan.rows) == sorted(
            [story["stayed"].name, story["joined"].name]
        )
        done = funds.apply_plan(budget, plan, by=acme[Role.OPS_ADMIN], reason="Q plan")
        assert len(done) == 2
        # By hand: the partner that left Gold before the start is refused
        # (though Gold when the year began), the one that left after is not.
        with pytest.raises(MdfError) as refused:
            funds.allocate(budget, story["left"], D("10"), by=acme[Role.OPS_ADMIN])
        assert refused.value.field == "partner"
        assert "was not in this budget's tier (Gold) on its first day" in str(refused.value)
        funds.allocate(budget, story["stayed"], D("10"), by=acme[Role.OPS_ADMIN])
        assert Allocation.objects.get(budget=budget, partner=story["stayed"]).amount == D("1010")


def test_the_allocation_import_checks_the_tier_on_the_first_day(acme, story):
    with acme.scope():
        budget = make_budget(acme, b.fund_type(acme, "Gold MDF"), tier=story["gold"])
        text = (
            "partner,amount,reason\n"
            f"{story['stayed'].name},100,\n"
            f"{story['left'].name},100,\n"
            f"{story['joined'].name},100,\n"
        )
        checked = allocation_import.parse_allocations_csv(budget, text)
        assert [row.errors for row in checked.rows] == [
            [],
            [
                f"partner: {story['left'].name} was not in this budget's tier (Gold) on its "
                f"first day ({fmt.day(budget.starts_on)})."
            ],
            [],
        ]
        ok = "partner,amount,reason\n" + "\n".join(
            f"{story[k].name},100," for k in ("stayed", "joined")
        )
        result = allocation_import.import_allocations(budget, ok, by=acme[Role.OPS_ADMIN])
        assert result.created == 2
        assert set(Allocation.objects.filter(budget=budget).values_list("partner", flat=True)) == {
            story["stayed"].pk,
            story["joined"].pk,
        }


def test_coop_accrues_to_a_tier_budget_by_the_tier_held_on_its_first_day(acme, story):
    """A year's co-op budget limited to Gold: a deal won today by a partner
    in Gold when the year began accrues to it; one by a partner in Silver
    then (Gold today) finds no budget."""
    with acme.scope():
        gold = story["gold"]
        fund = b.fund_type(acme, "Co-op", funding=FundType.Funding.ACCRUAL, accrual_percent=D("2"))
        budget = make_budget(acme, fund, span="year", tier=gold)
        year_start = budget.starts_on
        # A partner in Silver on the year's first day, Gold from the day after.
        late = factories.make_partner(acme.tenant, "Gold After New Year", tier=story["silver"])
        TierChange.objects.filter(partner=late).update(effective_on=dt.date(2024, 1, 1))
        after = noon(year_start + dt.timedelta(days=1))
        tiers.set_tier(late, gold, by=None, reason=tiers.Reason.UPGRADE, now=after)
        assert Partner.objects.get(pk=late.pk).tier == gold
        funds.sync_coop(make_won_deal(acme, "50000.00", partner=story["stayed"]))
        assert funds.sync_coop(make_won_deal(acme, "50000.00", partner=late)) == []
        allocations = Allocation.objects.filter(budget=budget)
        assert [(a.partner_id, a.amount) for a in allocations] == [
            (story["stayed"].pk, D("1000.00"))
        ]
