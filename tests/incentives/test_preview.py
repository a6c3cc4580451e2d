"""The what-if preview: hand-checked numbers for each rate structure, the
same figures ledger.sync_deal writes for the same deals, problems instead
of crashes, nothing written, and ten thousand deals in a second or two."""

import time
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealreg.models import DealRegistration, ProductLine
from incentives import ledger, plans, preview
from incentives.models import DealAccrualState, ExchangeRate, LedgerEntry, Plan, PlanVersion
from partners.models import Tier
from prm.tenancy.roles import Role
from tests import factories

from .conftest import make_plan, make_won_deal

D = Decimal
RT = PlanVersion.RateType
Q1 = (date(2025, 1, 1), date(2025, 3, 31))
BRACKETS = [("0", "2"), ("10000", "4"), ("50000", "6")]

pytestmark = pytest.mark.django_db


def run(version, start=Q1[0], end=Q1[1]):
    return preview.preview(version, start, end)


def by_partner(result):
    return {row.partner_name: row for row in result.rows}


def deals(world, *specs, partner=None, currency="USD"):
    """Won deals: (amount, close date) pairs."""
    return [
        make_won_deal(world, amount, close_date=day, partner=partner, currency=currency)
        for amount, day in specs
    ]


# --- Hand-checked figures -------------------------------------------------------------


def test_percentage(acme):
    with acme.scope():
        version = make_plan(acme, rate_percent=D("8.5"), publish=False)
        deals(acme, ("12345.67", date(2025, 1, 10)), ("1000", date(2025, 2, 1)))
        deals(acme, ("5000", date(2025, 4, 1)))  # after the range
        (row,) = run(version).rows
        # 1049.38195 -> 1049.38, plus 85.00
        assert (row.deals, row.volume, row.would_pay) == (2, D("13345.67"), D("1134.38"))
        assert row.actual == 0
        assert row.partner_name == acme.partner.name


def test_fixed_amount_in_base_and_in_a_foreign_currency(acme):
    with acme.scope():
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2024, 1, 1), rate=D("1.0837")
        )
        version = make_plan(
            acme, rate_type=RT.FIXED, fixed_amount=D("250"), rate_percent=None, publish=False
        )
        deals(acme, ("100", date(2025, 1, 5)), ("99999", date(2025, 2, 5)))
        deals(acme, ("1000", date(2025, 3, 5)), currency="EUR")
        (row,) = run(version).rows
        # EUR: 250 / 1.0837 = 230.69 EUR, x 1.0837 = 249.998753 -> 250.00
        assert row.would_pay == D("750.00")
        # 1000 EUR x 1.0837 = 1083.70
        assert row.volume == D("100") + D("99999") + D("1083.70")


@pytest.mark.parametrize(
    ("rate_type", "expected"),
    [
        # whole: 5000 at 2%, 30000 at 4%, 60000 at 6%
        (RT.BRACKETS_WHOLE, D("100") + D("1200") + D("3600")),
        # marginal: 100; 200 + 800; 200 + 1600 + 600
        (RT.BRACKETS_MARGINAL, D("100") + D("1000") + D("2400")),
    ],
)
def test_brackets(acme, rate_type, expected):
    with acme.scope():
        version = make_plan(
            acme, rate_type=rate_type, rate_percent=None, brackets=BRACKETS, publish=False
        )
        deals(
            acme,
            ("5000", date(2025, 1, 5)),
            ("30000", date(2025, 1, 6)),
            ("60000", date(2025, 1, 7)),
        )
        (row,) = run(version).rows
        assert (row.deals, row.would_pay) == (3, expected)


def test_accelerator_carries_attainment_in_close_date_order_and_resets_each_period(acme):
    with acme.scope():
        version = make_plan(
            acme,
            rate_percent=D("10"),
            quota=D("10000"),
            accelerator=D("1.5"),
            period="quarter",
            publish=False,
        )
        # Registered out of order: the preview goes by close date.
        deals(
            acme,
            ("5000", date(2025, 3, 1)),
            ("6000", date(2025, 1, 10)),
            ("6000", date(2025, 2, 10)),
            ("6000", date(2025, 4, 2)),
        )
        q1 = run(version).rows[0]
        # 600; 600 x (1 + 0.5 x 2000/6000) = 700; 500 x 1.5 = 750
        assert q1.would_pay == D("2050.00")
        half = run(version, date(2025, 1, 1), date(2025, 6, 30)).rows[0]
        assert half.would_pay == D("2650.00")  # Q2 starts again: 600


def test_caps_per_deal_and_per_period(acme):
    with acme.scope():
        version = make_plan(
            acme,
            rate_percent=D("10"),
            cap_per_deal=D("500"),
            cap_per_period=D("800"),
            period="month",
            publish=False,
        )
        deals(
            acme,
            ("3000", date(2025, 1, 3)),  # 300
            ("7000", date(2025, 1, 4)),  # 700 capped at 500
            ("2000", date(2025, 1, 5)),  # the month's 800 is used up: 0
            ("9000", date(2025, 2, 1)),  # new month: 500
        )
        (row,) = run(version).rows
        assert (row.deals, row.would_pay) == (4, D("1300.00"))


def test_rebates_per_whole_period_of_the_range(acme):
    with acme.scope():
        percent = make_plan(acme, kind=Plan.Kind.REBATE, rate_percent=D("2"), publish=False)
        fixed = make_plan(
            acme,
            kind=Plan.Kind.REBATE,
            rate_type=RT.FIXED,
            fixed_amount=D("1000"),
            rate_percent=None,
            quota=D("20000"),
            publish=False,
        )
        deals(acme, ("10000", date(2025, 1, 10)), ("15000", date(2025, 3, 31)))
        deals(acme, ("5000", date(2025, 2, 1)), partner=acme.other_partner)
        deals(acme, ("99999", date(2025, 4, 1)))  # next quarter

        rows = by_partner(run(percent))
        one, two = rows[acme.partner.name], rows[acme.other_partner.name]
        assert (one.deals, one.volume, one.would_pay) == (2, D("25000"), D("500.00"))
        assert (two.volume, two.would_pay) == (D("5000"), D("100.00"))
        assert run(percent).periods == [Q1]

        rows = by_partner(run(fixed))
        # 1000 once the quarter's volume reaches the quota of 20000
        assert rows[acme.partner.name].would_pay == D("1000.00")
        assert rows[acme.other_partner.name].would_pay == D("0")

        # A range that is not a whole quarter computes only whole quarters.
        partial = run(percent, date(2025, 1, 15), date(2025, 6, 30))
        assert partial.periods == [(date(2025, 4, 1), date(2025, 6, 30))]
        assert partial.totals.would_pay == D("1999.98")  # 99999 x 2%


def test_eligibility_by_tier_type_region_and_product(acme):
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
        firewall = ProductLine.objects.create(tenant=acme.tenant, name="Firewall", code="fw")
        backup = ProductLine.objects.create(tenant=acme.tenant, name="Backup", code="bk")
        by_tier = make_plan(acme, tiers=[silver], publish=False)
        by_product = make_plan(acme, product_lines=[backup], publish=False)
        by_type = make_plan(acme, partner_types=["msp"], publish=False)
        everyone = make_plan(acme, publish=False)
        make_won_deal(acme, "1000", close_date=date(2025, 1, 5), products=[firewall])
        make_won_deal(acme, "3000", close_date=date(2025, 1, 6), products=[firewall, backup])
        assert run(by_tier).rows == []  # the partner is Gold
        assert run(by_type).rows == []  # the partner is a reseller
        (row,) = run(by_product).rows
        assert (row.deals, row.would_pay) == (1, D("300.00"))
        assert run(everyone).totals.would_pay == D("400.00")


def test_missing_exchange_rate_is_a_problem_not_a_crash(acme):
    with acme.scope():
        version = make_plan(acme, rate_percent=D("10"), publish=False)
        deals(acme, ("1000", date(2025, 1, 5)))
        (gbp,) = deals(acme, ("500", date(2025, 1, 6)), currency="GBP")
        result = run(version)
        (row,) = result.rows
        assert (row.deals, row.would_pay, row.incomplete) == (1, D("100.00"), True)
        (problem,) = result.problems
        assert problem.registration_code == gbp.code
        assert "No GBP exchange rate is in force on 2025-01-06" in problem.message
        assert result.totals.incomplete


# --- The same as the ledger -----------------------------------------------------------


def test_preview_equals_what_sync_deal_writes(acme):
    """Brackets, an accelerator, caps and a foreign currency over two
    partners and two quarters: synced in close-date order, the ledger holds
    exactly what the preview said, per partner."""
    with acme.scope():
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2024, 1, 1), rate=D("1.0837")
        )
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2025, 3, 1), rate=D("1.1042")
        )
        version = make_plan(
            acme,
            rate_type=RT.BRACKETS_MARGINAL,
            rate_percent=None,
            brackets=BRACKETS,
            quota=D("40000"),
            accelerator=D("1.25"),
            cap_per_deal=D("2500"),
            cap_per_period=D("6000"),
            period="quarter",
            effective_from=date(2024, 1, 1),
        )
        specs = [
            ("12345.67", date(2025, 1, 3), acme.partner, "USD"),
            ("33333.33", date(2025, 1, 9), acme.other_partner, "EUR"),
            ("27500.00", date(2025, 2, 14), acme.partner, "EUR"),
            ("8100.10", date(2025, 3, 2), acme.partner, "EUR"),
            ("64000.00", date(2025, 3, 20), acme.other_partner, "USD"),
            ("999.99", date(2025, 3, 30), acme.partner, "USD"),
            ("45000.00", date(2025, 4, 11), acme.partner, "USD"),
        ]
        won = [
            make_won_deal(acme, amount, close_date=day, partner=partner, currency=currency)
            for amount, day, partner, currency in specs
        ]
        result = preview.preview(version, date(2025, 1, 1), date(2025, 6, 30))
        for registration in won:  # already in close-date order
            ledger.sync_deal(registration)
        written = {}
        for entry in LedgerEntry.objects.filter(plan_version=version):
            written[entry.partner_id] = written.get(entry.partner_id, D(0)) + entry.amount_base
        assert {row.partner_id: row.would_pay for row in result.rows} == written
        assert all(v > 0 for v in written.values())
        after = preview.preview(version, date(2025, 1, 1), date(2025, 6, 30))
        assert {row.partner_id: row.actual for row in after.rows} == written
        assert all(row.difference == 0 for row in after.rows)


def test_actual_counts_every_version_of_the_plan(acme):
    with acme.scope():
        first = make_plan(acme, rate_percent=D("10"), effective_from=date(2024, 1, 1))
        for registration in deals(acme, ("1000", date(2025, 1, 5)), ("2000", date(2025, 2, 5))):
            ledger.sync_deal(registration)
        draft = plans.new_draft(first, by=acme[Role.OPS_ADMIN], effective_from=date(2026, 1, 1))
        draft.rate_percent = D("12")
        draft.save()
        (row,) = run(draft).rows
        assert (row.would_pay, row.actual, row.difference) == (D("360.00"), D("300.00"), D("60"))


def test_writes_nothing_and_reads_in_a_few_queries(acme):
    with acme.scope():
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2024, 1, 1), rate=D("1.08")
        )
        product = ProductLine.objects.create(tenant=acme.tenant, name="Firewall", code="fw")
        version = make_plan(acme, product_lines=[product], publish=False)
        for n in range(30):
            make_won_deal(
                acme,
                str(100 + n),
                close_date=date(2025, 1, 1 + n),
                currency="EUR" if n % 2 else "USD",
                partner=acme.partner if n % 3 else acme.other_partner,
                products=[product],
            )
        counts = (LedgerEntry.objects.count(), DealAccrualState.objects.count())
        with CaptureQueriesContext(connection) as queries:
            result = run(version)
        assert result.totals.deals == 30
        assert len(queries) <= 12
        assert not [q for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
        assert (LedgerEntry.objects.count(), DealAccrualState.objects.count()) == counts


# --- Ranges -----------------------------------------------------------------------------


def test_ranges(acme):
    with acme.scope():
        deal_plan = make_plan(acme, publish=False)
        yearly = make_plan(acme, kind=Plan.Kind.REBATE, period="year", publish=False)
        today = date(2026, 5, 20)
        assert preview.default_range(deal_plan, today) == (date(2026, 1, 1), date(2026, 3, 31))
        assert preview.default_range(yearly, today) == (date(2025, 1, 1), date(2025, 12, 31))
        preview.check_range(date(2024, 5, 21), today, today)  # two years exactly
        with pytest.raises(preview.PreviewError, match="at most two years"):
            preview.check_range(date(2024, 5, 20), today, today)
        with pytest.raises(preview.PreviewError, match="must end today") as error:
            preview.check_range(date(2026, 1, 1), date(2026, 5, 21), today)
        assert error.value.field == "end"
        with pytest.raises(preview.PreviewError, match="before its start"):
            preview.check_range(date(2026, 2, 1), date(2026, 1, 1), today)
        # A yearly rebate over one quarter: no whole period, nothing paid.
        assert run(yearly).periods == []


# --- At scale ---------------------------------------------------------------------------


def test_ten_thousand_deals_in_a_second_or_two(acme):
    with acme.scope():
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2024, 1, 1), rate=D("1.08")
        )
        product = ProductLine.objects.create(tenant=acme.tenant, name="Firewall", code="fw")
        partners = [acme.partner, acme.other_partner] + [
            factories.make_partner(acme.tenant, f"Scale Partner {n}") for n in range(48)
        ]
        version = make_plan(
            acme,
            rate_type=RT.BRACKETS_MARGINAL,
            rate_percent=None,
            brackets=BRACKETS,
            quota=D("100000"),
            accelerator=D("1.2"),
            cap_per_period=D("50000"),
            product_lines=[product],
            publish=False,
        )
        submitter = acme[Role.PARTNER_USER].user
        rows = [
            DealRegistration(
                tenant=acme.tenant,
                partner=partners[n % len(partners)],
                submitted_by=submitter,
                customer_name=f"Scale Customer {n}",
                customer_name_normalized=f"scale customer {n}",
                customer_country="US",
                estimated_value=D(1000 + n),
                currency="EUR" if n % 4 == 0 else "USD",
                expected_close_date=date(2025, 1, 1),
                status=DealRegistration.Status.WON,
                won_amount=D(1000 + n),
                won_currency="EUR" if n % 4 == 0 else "USD",
                won_close_date=date(2025, 1 + n % 3, 1 + n % 28),
            )
            for n in range(10_000)
        ]
        DealRegistration.objects.bulk_create(rows, batch_size=2000)
        through = DealRegistration.product_lines.through
        through.objects.bulk_create(
            [through(dealregistration_id=r.pk, productline_id=product.pk) for r in rows],
            batch_size=5000,
        )
        started = time.perf_counter()
        result = run(version)
        elapsed = time.perf_counter() - started
        assert result.totals.deals == 10_000
        assert len(result.rows) == 50
        assert elapsed < 2.5, f"preview of 10,000 deals took {elapsed:.2f}s"
