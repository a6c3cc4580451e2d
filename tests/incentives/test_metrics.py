"""Incentives' metrics (incentives.metrics) on one exact story, told through
the ledger, dispute and payout services of a tenant in New York: a 10%
commission plan, no holding period, no minimum payout.

    Feb 25  D1 (acme's partner, closed 10 Feb) accrues 100
    Mar  2  D2 (closed 1 Mar) accrues 200
    Mar 11  D3 (the other partner, closed 10 Mar) accrues 50
    Mar 12  a dispute on D2's accrual is resolved with an adjustment of +15
    Mar 16  run 1 (cutoff 15 Mar) pays 315 and 50; marked paid on 18 Mar:
            D1 36 days after close, D2 17, D3 8
    Mar 20  D3 is reversed: a clawback of -50
    Mar 31  23:30 in New York (1 Apr in UTC): D4 (closed 20 Mar) accrues 300
    Apr  1  00:30 in New York: D5 (closed 25 Mar) accrues 40
    Apr 16  run 2 (cutoff 15 Apr) pays 340 (the other partner is at -50);
            marked paid on 20 Apr: D4 31 days after close, D5 26
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from dealreg.models import DealRegistration
from incentives import disputes, ledger, metrics, payouts
from incentives.models import IncentiveSettings, LedgerEntry, Settlement
from partners import services as partner_services
from partners.models import Partner, Tier
from prm.tenancy.declarations import NO_FILTERS, Filters, Period
from prm.tenancy.models import Tenant
from prm.tenancy.roles import Role
from tests import factories
from tests.metric_probe import APRIL, MARCH, compute, drill, listed, rows

from .conftest import make_plan, make_won_deal

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
NY = ZoneInfo("America/New_York")
JANUARY = Period(date(2026, 1, 1), date(2026, 1, 31))
FEBRUARY = Period(date(2026, 2, 1), date(2026, 2, 28))


def utc(month, day, hour=15, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def accrue(world, amount, close, moment, *, partner=None):
    with time_machine.travel(moment, tick=False), world.scope():
        deal = make_won_deal(world, amount, close_date=close, partner=partner)
        ledger.sync_deal(deal)
        return deal


def pay(world, cutoff, moment, paid_on, paid_moment):
    finance = world[Role.FINANCE]
    with time_machine.travel(moment, tick=False), world.scope():
        run = payouts.start_run(world.tenant, by=finance, cutoff=cutoff)
        run = payouts.compute_run(run)
        run = payouts.approve(run, by=world.second(Role.FINANCE))
        run = payouts.write_payouts(run)
    with time_machine.travel(paid_moment, tick=False), world.scope():
        return payouts.mark_paid(run, by=finance, reference=f"BANK-{cutoff}", paid_on=paid_on)


@pytest.fixture
def story(acme, globex):
    for world in (acme, globex):
        Tenant.objects.filter(pk=world.tenant.pk).update(timezone="America/New_York")
        world.tenant.refresh_from_db()
        with world.scope():
            IncentiveSettings.objects.create(
                tenant=world.tenant, holding_days=0, minimum_payout=Decimal(0)
            )
            make_plan(world, rate_percent=Decimal("10"))
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
        emea = factories.make_region(acme.tenant, "emea", countries=("DE",))
        partner_services.update_partner(
            acme.other_partner,
            by=None,
            data={"tier": silver, "partner_type": Partner.Type.MSP, "region": emea},
        )
    other = acme.other_partner
    d1 = accrue(acme, "1000", date(2026, 2, 10), utc(2, 25))
    d2 = accrue(acme, "2000", date(2026, 3, 1), utc(3, 2))
    d3 = accrue(acme, "500", date(2026, 3, 10), utc(3, 11), partner=other)
    with time_machine.travel(utc(3, 12), tick=False), acme.scope():
        line = LedgerEntry.objects.get(registration=d2, kind=Kind.ACCRUAL)
        dispute = disputes.open_dispute(line, by=acme[Role.PARTNER_ADMIN], message="Was 2100.")
        disputes.resolve_with_adjustment(
            dispute, by=acme[Role.FINANCE], amount="15", reason="Missed an add-on."
        )
    first = pay(acme, date(2026, 3, 15), utc(3, 16), date(2026, 3, 18), utc(3, 18))
    with time_machine.travel(utc(3, 20), tick=False), acme.scope():
        DealRegistration.objects.filter(pk=d3.pk).update(status=DealRegistration.Status.REVERSED)
        ledger.sync_deal(d3)
    d4 = accrue(acme, "3000", date(2026, 3, 20), datetime(2026, 3, 31, 23, 30, tzinfo=NY))
    d5 = accrue(acme, "400", date(2026, 3, 25), datetime(2026, 4, 1, 0, 30, tzinfo=NY))
    second = pay(acme, date(2026, 4, 15), utc(4, 16), date(2026, 4, 20), utc(4, 20))
    # Another tenant, the same month: never counted for acme.
    accrue(globex, "1000", date(2026, 3, 1), utc(3, 5))
    pay(globex, date(2026, 3, 15), utc(3, 16), date(2026, 3, 16), utc(3, 16))
    return {
        "deals": (d1, d2, d3, d4, d5),
        "runs": (first, second),
        "silver": silver,
        "emea": emea,
    }


def test_the_story_is_told_as_described(acme, story):
    with acme.scope():
        days = dict(
            Settlement.objects.filter(entry__kind=Kind.ACCRUAL).values_list(
                "entry__registration_id", "days_close_to_paid"
            )
        )
        payouts_booked = sorted(
            LedgerEntry.objects.filter(kind=Kind.PAYOUT).values_list("amount_base", flat=True)
        )
    d1, d2, d3, d4, d5 = story["deals"]
    assert days == {d1.pk: 36, d2.pk: 17, d3.pk: 8, d4.pk: 31, d5.pk: 26}
    assert payouts_booked == [Decimal("-340.00"), Decimal("-315.00"), Decimal("-50.00")]


def test_accrued_paid_and_outstanding(acme, globex, story):
    # 200 + 50 + 15 - 50 + 300: D4 was booked late on 31 March in New York.
    assert compute(acme, "incentives.accrued") == Decimal("515.00")
    assert compute(acme, "incentives.paid") == Decimal("365.00")
    assert compute(acme, "incentives.outstanding") == Decimal("250.00")
    assert compute(acme, "incentives.accrued", APRIL) == Decimal("40.00")
    assert compute(acme, "incentives.paid", APRIL) == Decimal("340.00")
    # The other partner owes the 50 clawed back after it was paid.
    assert compute(acme, "incentives.outstanding", APRIL) == Decimal("-50.00")
    assert compute(acme, "incentives.accrued", FEBRUARY) == Decimal("100.00")
    assert compute(acme, "incentives.outstanding", FEBRUARY) == Decimal("100.00")
    assert compute(acme, "incentives.accrued", JANUARY) == Decimal("0.00")
    assert compute(acme, "incentives.outstanding", JANUARY) == Decimal("0.00")
    assert compute(globex, "incentives.accrued") == Decimal("100.00")
    assert compute(globex, "incentives.paid") == Decimal("100.00")
    assert compute(globex, "incentives.outstanding") == Decimal("0.00")


def test_money_metrics_follow_the_filters(acme, story):
    silver = Filters(tier=story["silver"].pk)
    assert compute(acme, "incentives.accrued", filters=silver) == Decimal("0.00")  # 50 - 50
    assert compute(acme, "incentives.paid", filters=silver) == Decimal("50.00")
    assert compute(acme, "incentives.outstanding", filters=silver) == Decimal("-50.00")
    assert compute(acme, "incentives.paid", filters=Filters(region=story["emea"].pk)) == Decimal(
        "50.00"
    )
    assert compute(acme, "incentives.paid", filters=Filters(partner_type="msp")) == Decimal("50.00")
    cm = Filters(channel_manager=acme[Role.CHANNEL_MANAGER].user.pk)
    assert compute(acme, "incentives.paid", filters=cm) == Decimal("315.00")
    assert compute(acme, "incentives.accrued", filters=cm) == Decimal("515.00")
    assert compute(acme, "incentives.outstanding", filters=cm) == Decimal("300.00")


def test_paid_within_30_days_and_payment_turnaround(acme, globex, story):
    # Paid on 18 March: D1 after 36 days, D2 after 17, D3 after 8.
    assert compute(acme, "incentives.paid_within_30_days") == Decimal("66.7")
    assert compute(acme, "incentives.payment_turnaround_median") == Decimal("17.0")
    # percentile_cont: 17 + 0.8 * (36 - 17)
    assert compute(acme, "incentives.payment_turnaround_p90") == Decimal("32.2")
    # Paid on 20 April: D4 after 31 days, D5 after 26.
    assert compute(acme, "incentives.paid_within_30_days", APRIL) == Decimal("50.0")
    assert compute(acme, "incentives.payment_turnaround_median", APRIL) == Decimal("28.5")
    assert compute(acme, "incentives.payment_turnaround_p90", APRIL) == Decimal("30.5")
    msp = Filters(partner_type="msp")
    assert compute(acme, "incentives.paid_within_30_days", filters=msp) == Decimal("100.0")
    assert compute(acme, "incentives.payment_turnaround_median", filters=msp) == Decimal("8.0")
    # Globex paid its one accrual 15 days after close.
    assert compute(globex, "incentives.payment_turnaround_median") == Decimal("15.0")
    # The promise is the tenant's payout target.
    with acme.scope():  # saved as the settings page saves it
        settings_row = IncentiveSettings.objects.get(tenant=acme.tenant)
        settings_row.payout_target_days = 36
        settings_row.save()
    assert compute(acme, "incentives.paid_within_30_days") == Decimal("100.0")


def test_nothing_paid_leaves_the_on_time_figures_undefined(acme, story):
    for key in (
        "incentives.paid_within_30_days",
        "incentives.payment_turnaround_median",
        "incentives.payment_turnaround_p90",
        "incentives.calculation_error_rate",
    ):
        assert compute(acme, key, JANUARY) is None
    # Paid runs mark their day: nothing was paid on 1-17 March.
    early_march = Period(date(2026, 3, 1), date(2026, 3, 17))
    assert compute(acme, "incentives.paid_within_30_days", early_march) is None


def test_calculation_error_rate_counts_accruals_corrected_after_a_dispute(acme, story):
    # Accruals booked in March: D2 (disputed and adjusted), D3 (clawed back), D4.
    assert compute(acme, "incentives.calculation_error_rate") == Decimal("33.3")
    assert compute(acme, "incentives.calculation_error_rate", FEBRUARY) == Decimal("0.0")
    silver = Filters(tier=story["silver"].pk)
    assert compute(acme, "incentives.calculation_error_rate", filters=silver) == Decimal("0.0")
    cm = Filters(channel_manager=acme[Role.CHANNEL_MANAGER].user.pk)
    assert compute(acme, "incentives.calculation_error_rate", filters=cm) == Decimal("50.0")


def test_a_rejected_dispute_is_no_correction(acme, story):
    _, _, _, d4, _ = story["deals"]
    with acme.scope():
        line = LedgerEntry.objects.get(registration=d4, kind=Kind.ACCRUAL)
        dispute = disputes.open_dispute(line, by=acme[Role.PARTNER_ADMIN], message="Too low?")
        disputes.reject(dispute, by=acme[Role.FINANCE], reason="The rate is 10%.")
    assert compute(acme, "incentives.calculation_error_rate") == Decimal("33.3")


def test_paid_drills_into_the_payouts_booked_in_the_period(acme, story):
    url = drill(acme, "incentives.paid")
    assert urlsplit(url).path == reverse("tenant_admin:incentives_ledgerentry_changelist")
    assert parse_qs(urlsplit(url).query) == {"drill": ["incentives.paid,2026-03-01,2026-03-31"]}
    response = acme.client(Role.FINANCE).get(url)
    assert response.status_code == 200
    shown = sorted(e.amount_base for e in response.context["cl"].result_list)
    assert shown == [Decimal("-315.00"), Decimal("-50.00")]
    # Any period and any filter: the list shows exactly the rows counted.
    for key in ("incentives.accrued", "incentives.outstanding", "incentives.paid"):
        half = Period(date(2026, 3, 1), date(2026, 3, 15))
        silver = Filters(tier=story["silver"].pk)
        for period, filters in ((MARCH, NO_FILTERS), (half, NO_FILTERS), (MARCH, silver)):
            url = drill(acme, key, period, filters)
            assert listed(acme, Role.FINANCE, url) == rows(acme, key, period, filters), key


def test_every_metric_is_declared_once_for_ledger_readers():
    keys = [m.key for m in metrics.METRICS]
    assert len(keys) == len(set(keys)) == 7
    assert all(m.perms == ("incentives.view_ledgerentry",) for m in metrics.METRICS)


def test_each_metric_answers_in_one_or_two_queries(acme, story, django_assert_max_num_queries):
    # % paid on time reads the tenant's payout target first.
    with acme.scope():
        for m in metrics.METRICS:
            limit = 2 if m.key == "incentives.paid_within_30_days" else 1
            with django_assert_max_num_queries(limit):
                m.compute(acme.tenant, MARCH, Filters(tier=story["silver"].pk))
