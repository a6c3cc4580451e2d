"""Incentives use the tier a partner held on the date that matters: a deal's
close date for per-deal plans, a rule period's last day for rebates. The
ledger (``sync_deal``), the bulk engine, the preview and the period close
agree on it.

The partner is Silver from 2025 and Gold from 10 March 2026: a Silver plan
pays 5 % and a Gold plan 8 %."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from incentives import bulk, ledger, preview, rebates, statement_tasks
from incentives.models import LedgerEntry, Plan
from partners import tiers
from partners.models import Tier, TierChange

from .conftest import make_plan, make_won_deal

MOVE = date(2026, 3, 10)
BEFORE, ON_THE_DAY, AFTER = date(2026, 3, 5), MOVE, date(2026, 3, 20)
Source = LedgerEntry.Source


def move_silver_to_gold(world) -> tuple[Tier, Tier]:
    """The world's partner: Silver from 2025, Gold from ``MOVE``."""
    # Rows written at the real 'now' by the factories: from long ago.
    TierChange.objects.update(effective_on=date(2024, 1, 1))
    silver, gold = Tier.objects.get(name="Silver"), Tier.objects.get(name="Gold")
    at = datetime(2025, 1, 6, 12, tzinfo=UTC)
    tiers.set_tier(world.partner, silver, by=None, reason=tiers.Reason.MANUAL, now=at)
    at = datetime(MOVE.year, MOVE.month, MOVE.day, 12, tzinfo=UTC)
    tiers.set_tier(world.partner, gold, by=None, reason=tiers.Reason.UPGRADE, now=at)
    return silver, gold


def tiered_plans(world, silver, gold, **rule):
    return (
        make_plan(world, name="Silver 5", rate_percent=D("5"), tiers=[silver], **rule),
        make_plan(world, name="Gold 8", rate_percent=D("8"), tiers=[gold], **rule),
    )


def world_with_deals(world):
    silver, gold = move_silver_to_gold(world)
    silver_plan, gold_plan = tiered_plans(world, silver, gold)
    deals = {
        "before": make_won_deal(world, "1000", close_date=BEFORE),
        "on the day": make_won_deal(world, "2000", close_date=ON_THE_DAY),
        "after": make_won_deal(world, "4000", close_date=AFTER),
    }
    return silver_plan, gold_plan, deals


def paid(world, deals) -> dict:
    """(deal, plan name) -> amount, from the ledger."""
    names = {d.pk: name for name, d in deals.items()}
    return {
        (names[e.registration_id], e.plan_version.plan.name): e.amount
        for e in LedgerEntry.objects.filter(registration__in=deals.values()).select_related(
            "plan_version__plan"
        )
    }


EXPECTED = {
    ("before", "Silver 5"): D("50.00"),
    ("on the day", "Gold 8"): D("160.00"),
    ("after", "Gold 8"): D("320.00"),
}


def test_sync_deal_pays_the_plan_of_the_tier_held_on_the_close_date(acme):
    with acme.scope():
        _, _, deals = world_with_deals(acme)
        assert acme.partner.tier.name == "Gold"  # today's tier: not what decides
        for deal in deals.values():
            ledger.sync_deal(deal)
        assert paid(acme, deals) == EXPECTED


def test_the_bulk_engine_agrees_with_sync_deal(acme, globex):
    with acme.scope():
        _, _, deals = world_with_deals(acme)
        for deal in deals.values():
            ledger.sync_deal(deal)
        expected = paid(acme, deals)
    with globex.scope():
        _, _, deals = world_with_deals(globex)
        assert bulk.accrue_won_deals(globex.tenant) == 3
        assert paid(globex, deals) == expected == EXPECTED


def test_an_order_dependent_plan_counts_only_the_deals_in_its_tier(acme, globex):
    """A Gold plan with a quarterly quota: the quarter's attainment holds
    only the deals closed in Gold; the bulk engine's second pass agrees."""
    for world in (acme, globex):
        with world.scope():
            _, gold = move_silver_to_gold(world)
            make_plan(
                world,
                name="Gold accelerated",
                rate_percent=D("10"),
                quota=D("3000"),
                accelerator=D("2"),
                period="quarter",
                tiers=[gold],
            )
            for amount, day in (("5000", BEFORE), ("2000", ON_THE_DAY), ("2000", AFTER)):
                make_won_deal(world, amount, close_date=day)
    with acme.scope():
        for deal in ledger.registrations_to_sync(acme.tenant).order_by("won_close_date"):
            ledger.sync_deal(deal)
        by_ledger = sorted(LedgerEntry.objects.values_list("effective_date", "amount"))
    with globex.scope():
        assert bulk.accrue_won_deals(globex.tenant) == 2
        by_bulk = sorted(LedgerEntry.objects.values_list("effective_date", "amount"))
    # 2,000 at 10 % (attainment 0 of 3,000); then 1,000 at 10 % and 1,000
    # above the quota at 20 %. The Silver deal's 5,000 does not count.
    assert by_ledger == by_bulk == [(ON_THE_DAY, D("200.00")), (AFTER, D("300.00"))]


def test_the_preview_uses_the_tier_on_each_close_date(acme):
    with acme.scope():
        silver_plan, gold_plan, deals = world_with_deals(acme)
        march = (date(2026, 3, 1), date(2026, 3, 31))
        silver_row = preview.preview(silver_plan, *march).totals
        gold_row = preview.preview(gold_plan, *march).totals
        assert (silver_row.deals, silver_row.would_pay) == (1, D("50.00"))
        assert (gold_row.deals, gold_row.would_pay) == (2, D("480.00"))
        # The ledger agrees with what the preview says the plans pay.
        for deal in deals.values():
            ledger.sync_deal(deal)
        assert preview.preview(gold_plan, *march).totals.actual == D("480.00")
        assert preview.preview(silver_plan, *march).totals.actual == D("50.00")


def test_the_preview_takes_a_tier_function_instead_of_the_history(acme):
    """``tiers=``: what partners would earn in the tier they would move to."""
    with acme.scope():
        silver_plan, gold_plan, _ = world_with_deals(acme)
        gold, silver = gold_plan.tiers.get(), silver_plan.tiers.get()
        march = (date(2026, 3, 1), date(2026, 3, 31))
        asked = []

        def always_gold(partner_id, day):
            asked.append((partner_id, day))
            return gold.pk

        row = preview.preview(gold_plan, *march, tiers=always_gold).totals
        assert (row.deals, row.would_pay) == (3, D("560.00"))  # 8 % of 7,000
        assert (acme.partner.pk, BEFORE) in asked
        assert preview.preview(silver_plan, *march, tiers=always_gold).totals.deals == 0
        silver_from_the_15th = preview.preview(
            silver_plan,
            *march,
            tiers=lambda partner_id, day: silver.pk if day >= date(2026, 3, 15) else gold.pk,
        ).totals
        assert (silver_from_the_15th.deals, silver_from_the_15th.would_pay) == (1, D("200.00"))


def test_a_rebate_counts_the_tier_held_on_the_periods_last_day(acme):
    """Gold on 31 March: the Gold rebate pays on the whole quarter's volume,
    the Silver rebate pays nothing; the period close and the preview agree."""
    with acme.scope():
        silver, gold = move_silver_to_gold(acme)
        rule = {"kind": Plan.Kind.REBATE, "period": "quarter", "effective_from": date(2026, 1, 1)}
        silver_rebate, gold_rebate = tiered_plans(acme, silver, gold, **rule)
        for amount, day in (("1000", BEFORE), ("4000", AFTER)):
            make_won_deal(acme, amount, close_date=day)
        quarter = (date(2026, 1, 1), date(2026, 3, 31))
        assert preview.preview(gold_rebate, *quarter).totals.would_pay == D("400.00")
        assert preview.preview(silver_rebate, *quarter).totals.would_pay == D("0")
        at = datetime(2026, 4, 3, 12, tzinfo=UTC)
        assert statement_tasks.accrue_rebates(acme.tenant, now=at) == 1
        entry = LedgerEntry.objects.get(source=Source.REBATE)
        assert (entry.plan_version, entry.amount, entry.basis_amount) == (
            gold_rebate,
            D("400.00"),
            D("5000.00"),
        )
        # One partner at a time (no history read by the caller): the same.
        assert rebates.sync_rebate(gold_rebate, acme.partner, quarter[0]) is None
        assert rebates.sync_rebate(silver_rebate, acme.partner, quarter[0]) is None


def test_a_monthly_rebate_follows_the_tier_held_at_each_months_end(acme):
    with acme.scope():
        silver, gold = move_silver_to_gold(acme)
        rule = {"kind": Plan.Kind.REBATE, "period": "month", "effective_from": date(2026, 1, 1)}
        silver_rebate, gold_rebate = tiered_plans(acme, silver, gold, **rule)
        make_won_deal(acme, "1000", close_date=date(2026, 3, 2))  # closed in Silver
        february = make_won_deal(acme, "3000", close_date=date(2026, 2, 20))
        at = datetime(2026, 4, 3, 12, tzinfo=UTC)
        assert statement_tasks.accrue_rebates(acme.tenant, now=at) == 2
        earned = {
            (e.plan_version, e.period_start): e.amount
            for e in LedgerEntry.objects.select_related("plan_version")
        }
        # February ended in Silver; March ended in Gold (with the deal closed in Silver).
        assert earned == {
            (silver_rebate, date(2026, 2, 1)): D("150.00"),
            (gold_rebate, date(2026, 3, 1)): D("80.00"),
        }
        assert february.won_close_date < MOVE


@pytest.mark.parametrize("day", [date(2025, 6, 1), MOVE, date(2030, 1, 1)])
def test_eligibility_is_by_the_tier_given(acme, day):
    """``partner_eligible`` judges the tier it is given, not ``partner.tier``."""
    with acme.scope():
        silver, gold = move_silver_to_gold(acme)
        silver_plan, _ = tiered_plans(acme, silver, gold)
        held = tiers.tier_id_on(acme.partner, day)
        assert ledger.partner_eligible(silver_plan, acme.partner, tier_id=held) == (
            held == silver.pk
        )
        assert held == (silver.pk if day < MOVE else gold.pk)
