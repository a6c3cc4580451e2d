"""Deal registration's metrics (dealreg.metrics), on small exact scenarios:
registrations go through the workflow services at chosen moments of a
tenant in New York (business hours 09:00-17:00, Monday to Friday; March
2026 has no US public holiday) or, for outcomes, are stored as they end up."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from dealreg import metrics, services
from dealreg.models import DealRegistration, DirectOpportunity, ProductLine
from partners import services as partner_services
from partners.models import Partner, Tier
from prm.tenancy.declarations import NO_FILTERS, Filters, Period
from prm.tenancy.models import Tenant
from prm.tenancy.roles import Role
from tests import factories
from tests.metric_probe import APRIL, MARCH, compute, drill, listed, metric, rows

from .conftest import registration_input

pytestmark = pytest.mark.django_db

Status = DealRegistration.Status
NY = ZoneInfo("America/New_York")
_seq = itertools.count(1)


def ny(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


@pytest.fixture(autouse=True)
def _in_new_york(acme, globex):
    for world in (acme, globex):
        Tenant.objects.filter(pk=world.tenant.pk).update(timezone="America/New_York")
        world.tenant.refresh_from_db()


@pytest.fixture
def rival(acme):
    """A partner user at acme's other partner (no channel manager)."""
    with acme.scope():
        return factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival@acme.test"
        )


def customer(name=None):
    n = next(_seq)
    return {
        "customer_name": name or f"Customer {n} Inc",
        "customer_domain": f"customer{n}.example",
    }


def stored(world, *, partner=None, status=Status.APPROVED, **fields) -> DealRegistration:
    """A registration stored as it ends up (no workflow)."""
    tenant = world.tenant
    with world.scope():
        registration = DealRegistration.objects.create(
            tenant=tenant,
            partner=partner or world.partner,
            submitted_by=world[Role.PARTNER_USER].user,
            customer_name=f"Stored {next(_seq)}",
            customer_name_normalized="stored",
            customer_country="US",
            estimated_value=Decimal(fields.pop("value", "1000.00")),
            currency=fields.pop("currency", "USD"),
            expected_close_date=date(2026, 6, 30),
            status=status,
            **fields,
        )
        line = ProductLine.objects.filter(code="fw").first()
        if line is not None:
            registration.product_lines.set([line])
        return registration


def direct(world, stage, amount, *, currency="USD", close_date=None):
    with world.scope():
        return DirectOpportunity.objects.create(
            tenant=world.tenant,
            external_id=f"OPP-{next(_seq)}",
            customer_name="Direct customer",
            customer_name_normalized="direct customer",
            stage=stage,
            amount=Decimal(amount),
            currency=currency,
            close_date=close_date,
        )


def won(world, amount, close, **fields):
    return stored(
        world,
        status=fields.pop("status", Status.WON),
        won_amount=Decimal(amount),
        won_currency=fields.pop("won_currency", "USD"),
        won_close_date=close,
        outcome_recorded_at=datetime(2026, 4, 10, tzinfo=UTC),
        **fields,
    )


# --- Pipeline and revenue -------------------------------------------------------------------


def test_partner_sourced_pipeline_and_its_share(acme, globex):
    stored(acme, value="25000.00")
    stored(acme, value="5000.50", partner=acme.other_partner)
    stored(acme, value="10000.00", currency="EUR")  # no rate here: left out
    stored(acme, value="7000.00", status=Status.SUBMITTED)
    stored(acme, value="8000.00", status=Status.EXPIRED)
    won(acme, "9000.00", date(2026, 3, 5))
    stored(globex, value="99999.00")
    direct(acme, DirectOpportunity.Stage.NEGOTIATION, "60000.00")
    direct(acme, DirectOpportunity.Stage.PROSPECTING, "30001.50")
    direct(acme, DirectOpportunity.Stage.PROPOSAL, "999.00", currency="EUR")
    direct(acme, DirectOpportunity.Stage.CLOSED_WON, "40000.00", close_date=date(2026, 3, 3))
    direct(globex, DirectOpportunity.Stage.NEGOTIATION, "1.00")

    assert compute(acme, "dealreg.partner_sourced_pipeline") == Decimal("30000.50")
    # The pipeline as it stands, whatever the period.
    assert compute(acme, "dealreg.partner_sourced_pipeline", APRIL) == Decimal("30000.50")
    # 30000.50 / (30000.50 + 90001.50)
    assert compute(acme, "dealreg.channel_pipeline_share") == Decimal("25.0")
    assert compute(globex, "dealreg.partner_sourced_pipeline") == Decimal("99999.00")
    assert compute(globex, "dealreg.channel_pipeline_share") == Decimal("100.0")


def test_pipeline_with_nothing_open(acme):
    assert compute(acme, "dealreg.partner_sourced_pipeline") == Decimal("0.00")
    assert compute(acme, "dealreg.channel_pipeline_share") is None
    direct(acme, DirectOpportunity.Stage.QUALIFICATION, "100.00")
    assert compute(acme, "dealreg.channel_pipeline_share") == Decimal("0.0")


def test_pipeline_filters_narrow_the_partner_side_only(acme):
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
        partner_services.update_partner(acme.other_partner, by=None, data={"tier": silver})
    stored(acme, value="3000.00")
    stored(acme, value="1000.00", partner=acme.other_partner)
    direct(acme, DirectOpportunity.Stage.NEGOTIATION, "4000.00")
    only_silver = Filters(tier=silver.pk)
    assert compute(acme, "dealreg.partner_sourced_pipeline", filters=only_silver) == Decimal(
        "1000.00"
    )
    assert compute(acme, "dealreg.channel_pipeline_share", filters=only_silver) == Decimal("20.0")
    manager = Filters(channel_manager=acme[Role.CHANNEL_MANAGER].user.pk)
    assert compute(acme, "dealreg.partner_sourced_pipeline", filters=manager) == Decimal("3000.00")


def test_pipeline_drills_into_the_approved_registrations(acme):
    kept = stored(acme, value="25000.00")
    stored(acme, status=Status.SUBMITTED)
    stored(acme, value="10.00", currency="EUR")
    won(acme, "10.00", date(2026, 3, 5))
    url = drill(acme, "dealreg.partner_sourced_pipeline")
    assert urlsplit(url).path == reverse("tenant_admin:dealreg_dealregistration_changelist")
    assert parse_qs(urlsplit(url).query) == {
        "drill": ["dealreg.partner_sourced_pipeline,2026-03-01,2026-03-31"]
    }
    assert rows(acme, "dealreg.partner_sourced_pipeline") == [kept.pk]
    assert listed(acme, Role.OPS_ADMIN, url) == [kept.pk]
    # The share's figure explains its partner side: the same rows.
    assert drill(acme, "dealreg.channel_pipeline_share") == url.replace(
        "partner_sourced_pipeline", "channel_pipeline_share"
    )
    # Filters travel with the link, and the list honours them.
    own_tier = Filters(tier=acme.partner.tier_id)
    url = drill(acme, "dealreg.partner_sourced_pipeline", filters=own_tier)
    assert url.endswith(f",{acme.partner.tier_id}")
    assert listed(acme, Role.OPS_ADMIN, url) == [kept.pk]
    with acme.scope():
        other_tier = Tier.objects.exclude(pk=acme.partner.tier_id).first()
    url = drill(acme, "dealreg.partner_sourced_pipeline", filters=Filters(tier=other_tier.pk))
    assert listed(acme, Role.OPS_ADMIN, url) == []


def test_partner_sourced_revenue_and_channel_contribution(acme, globex):
    won(acme, "40000.00", date(2026, 3, 31))
    won(acme, "2000.25", date(2026, 3, 1), partner=acme.other_partner)
    won(acme, "5000.00", date(2026, 4, 1))  # April
    won(acme, "6000.00", date(2026, 2, 28))  # February
    won(acme, "7000.00", date(2026, 3, 10), status=Status.REVERSED)
    won(acme, "8000.00", date(2026, 3, 10), won_currency="EUR", currency="EUR")
    won(globex, "90000.00", date(2026, 3, 10))
    direct(acme, DirectOpportunity.Stage.CLOSED_WON, "17999.75", close_date=date(2026, 3, 15))
    direct(acme, DirectOpportunity.Stage.CLOSED_WON, "5.00", close_date=date(2026, 4, 1))
    direct(acme, DirectOpportunity.Stage.CLOSED_LOST, "5.00", close_date=date(2026, 3, 15))
    direct(acme, DirectOpportunity.Stage.NEGOTIATION, "5.00", close_date=date(2026, 3, 15))

    assert compute(acme, "dealreg.partner_sourced_revenue") == Decimal("42000.25")
    # 42000.25 / (42000.25 + 17999.75) = 70.0%
    assert compute(acme, "dealreg.channel_revenue_contribution") == Decimal("70.0")
    assert compute(acme, "dealreg.partner_sourced_revenue", APRIL) == Decimal("5000.00")
    assert compute(acme, "dealreg.channel_revenue_contribution", APRIL) == Decimal("99.9")
    cm = Filters(channel_manager=acme[Role.CHANNEL_MANAGER].user.pk)
    assert compute(acme, "dealreg.partner_sourced_revenue", filters=cm) == Decimal("40000.00")
    assert compute(globex, "dealreg.partner_sourced_revenue") == Decimal("90000.00")
    empty = Period(date(2025, 1, 1), date(2025, 1, 31))
    assert compute(acme, "dealreg.partner_sourced_revenue", empty) == Decimal("0.00")
    assert compute(acme, "dealreg.channel_revenue_contribution", empty) is None


# --- Submissions, decisions, turnaround -----------------------------------------------------


def test_submitted_in_the_period_on_the_tenants_calendar(acme, globex, rival, submit_as, products):
    # 23:30 on 31 March in New York is 03:30 on 1 April in UTC.
    submit_as(acme, now=ny(31, 23, 30), **customer())
    submit_as(acme, now=ny(1, 0, 5), **customer())
    submit_as(acme, member=rival, now=ny(15, 10), **customer())
    submit_as(acme, now=ny(1, 0, 30, month=4), **customer())  # April
    submit_as(acme, now=ny(28, 23, 59, month=2), **customer())  # February
    submit_as(globex, now=ny(15, 10), **customer())
    with acme.scope():
        draft = services.save_draft(
            tenant=acme.tenant,
            by=acme[Role.PARTNER_USER],
            given=registration_input(products["acme"], **customer()),
        )
        assert draft.status == Status.DRAFT
    assert compute(acme, "dealreg.submitted") == 3
    assert compute(acme, "dealreg.submitted", APRIL) == 1
    assert compute(globex, "dealreg.submitted") == 1
    assert metric("dealreg.submitted").drill is None


def test_each_filter_selects_the_registrations_of_matching_partners(acme, rival, submit_as):
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
        emea = factories.make_region(acme.tenant, "emea", countries=("DE",))
        partner_services.update_partner(
            acme.other_partner,
            by=None,
            data={"tier": silver, "partner_type": Partner.Type.MSP, "region": emea},
        )
    for _ in range(2):
        submit_as(acme, now=ny(10, 10), **customer())
    submit_as(acme, member=rival, now=ny(10, 11), **customer())
    cm = acme[Role.CHANNEL_MANAGER].user.pk
    assert compute(acme, "dealreg.submitted") == 3
    assert compute(acme, "dealreg.submitted", filters=Filters(tier=silver.pk)) == 1
    assert compute(acme, "dealreg.submitted", filters=Filters(partner_type="msp")) == 1
    assert compute(acme, "dealreg.submitted", filters=Filters(partner_type="reseller")) == 2
    assert compute(acme, "dealreg.submitted", filters=Filters(region=emea.pk)) == 1
    assert compute(acme, "dealreg.submitted", filters=Filters(channel_manager=cm)) == 2


@pytest.fixture
def decided_in_march(acme, submit_as):
    """Four registrations decided in March, with their business hours:

    - A: submitted Mon 2 Mar 10:00, approved 14:00 → 4 h, within the SLA.
    - B: submitted Mon 2 Mar 16:00, more information asked Tue 10:00 (2 h
      worked), answered Wed 11:00 (9 h waiting on the partner), rejected
      Wed 15:00 (4 h) → 6 h (15 h on the clock), within the SLA.
    - C: submitted Fri 6 Mar 16:00, approved Wed 11 Mar 12:00 → 20 h, past
      the 16-hour SLA (clocks changed on Sunday 8 March).
    - D: submitted Mon 2 Mar 09:00, more information asked 10:00 and never
      answered, rejected Thu 5 Mar 10:00 → 1 h, within the SLA.

    And E, decided in April: submitted Tue 31 Mar 16:00, approved Wed 1 Apr 10:00.
    """
    ops, partner = acme[Role.OPS_ADMIN], acme[Role.PARTNER_USER]
    a = submit_as(acme, now=ny(2, 10), **customer())
    b = submit_as(acme, now=ny(2, 16), **customer())
    c = submit_as(acme, now=ny(6, 16), **customer())
    d = submit_as(acme, now=ny(2, 9), **customer())
    e = submit_as(acme, now=ny(31, 16), **customer())
    with acme.scope():
        services.approve(a, by=ops, now=ny(2, 14))
        services.request_info(b, by=ops, message="Which sites?", now=ny(3, 10))
        services.provide_info(b, by=partner, message="Three.", now=ny(4, 11))
        services.reject(b, by=ops, reason="Direct account.", now=ny(4, 15))
        services.approve(c, by=ops, now=ny(11, 12))
        services.request_info(d, by=ops, message="Budget?", now=ny(2, 10))
        services.reject(d, by=ops, reason="No answer.", now=ny(5, 10))
        services.approve(e, by=ops, now=ny(1, 10, month=4))
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def test_turnaround_in_business_hours_without_waiting_on_the_partner(acme, decided_in_march):
    with acme.scope():
        hours = metrics.turnaround_hours(acme.tenant, MARCH, NO_FILTERS)
    assert sorted(hours) == [Decimal(1), Decimal(4), Decimal(6), Decimal(20)]
    assert compute(acme, "dealreg.turnaround_median") == Decimal("5.0")
    # percentile_cont: 6 + 0.7 * (20 - 6)
    assert compute(acme, "dealreg.turnaround_p90") == Decimal("15.8")
    # E: Tue 16:00-17:00 and Wed 09:00-10:00.
    assert compute(acme, "dealreg.turnaround_median", APRIL) == Decimal("2.0")
    assert compute(acme, "dealreg.turnaround_p90", APRIL) == Decimal("2.0")


def test_turnaround_is_undefined_with_no_decision(acme, submit_as):
    submit_as(acme, now=ny(2, 10), **customer())
    assert compute(acme, "dealreg.turnaround_median") is None
    assert compute(acme, "dealreg.turnaround_p90") is None
    assert compute(acme, "dealreg.approval_rate") is None
    assert compute(acme, "dealreg.sla_compliance") is None
    assert compute(acme, "dealreg.conversion") is None


def test_approval_rate_and_sla_compliance(acme, globex, decided_in_march, submit_as):
    assert compute(acme, "dealreg.approval_rate") == Decimal("50.0")  # A, C of A-D
    assert compute(acme, "dealreg.sla_compliance") == Decimal("75.0")  # all but C
    assert compute(acme, "dealreg.approval_rate", APRIL) == Decimal("100.0")
    assert compute(acme, "dealreg.sla_compliance", APRIL) == Decimal("100.0")
    # Another tenant's decisions never count.
    late = submit_as(globex, now=ny(2, 10), **customer())
    with globex.scope():
        services.reject(late, by=globex[Role.OPS_ADMIN], reason="No.", now=ny(20, 10))
    assert compute(acme, "dealreg.approval_rate") == Decimal("50.0")
    assert compute(globex, "dealreg.approval_rate") == Decimal("0.0")
    assert compute(globex, "dealreg.sla_compliance") == Decimal("0.0")


def test_a_decision_late_at_night_counts_in_the_tenants_day(acme, submit_as):
    early = submit_as(acme, now=ny(30, 10), **customer())
    late = submit_as(acme, now=ny(30, 11), **customer())
    with acme.scope():
        # 23:30 on 31 March in New York (1 April in UTC), 00:30 on 1 April.
        services.approve(early, by=acme[Role.OPS_ADMIN], now=ny(31, 23, 30))
        services.reject(late, by=acme[Role.OPS_ADMIN], reason="No.", now=ny(1, 0, 30, month=4))
    assert compute(acme, "dealreg.approval_rate") == Decimal("100.0")
    assert compute(acme, "dealreg.approval_rate", APRIL) == Decimal("0.0")
    assert compute(acme, "dealreg.conversion", APRIL) is None


def test_decision_metrics_follow_the_filters(acme, rival, submit_as):
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
        partner_services.update_partner(acme.other_partner, by=None, data={"tier": silver})
    mine = submit_as(acme, now=ny(2, 10), **customer())
    theirs = submit_as(acme, member=rival, now=ny(2, 10), **customer())
    with acme.scope():
        services.approve(mine, by=acme[Role.OPS_ADMIN], now=ny(2, 12))
        services.reject(theirs, by=acme[Role.OPS_ADMIN], reason="No.", now=ny(2, 15))
    assert compute(acme, "dealreg.approval_rate") == Decimal("50.0")
    assert compute(acme, "dealreg.approval_rate", filters=Filters(tier=silver.pk)) == Decimal("0.0")
    assert compute(acme, "dealreg.turnaround_median", filters=Filters(tier=silver.pk)) == Decimal(
        "5.0"
    )
    cm = Filters(channel_manager=acme[Role.CHANNEL_MANAGER].user.pk)
    assert compute(acme, "dealreg.turnaround_median", filters=cm) == Decimal("2.0")


# --- Conflicts ------------------------------------------------------------------------------


def test_conflict_rate_counts_both_sides_of_a_conflict(acme, globex, rival, submit_as):
    same = {"customer_name": "Initech Corporation", "customer_domain": "initech.example"}
    first = submit_as(acme, now=ny(2, 10), **same)
    second = submit_as(acme, member=rival, now=ny(3, 10), **same)
    submit_as(acme, now=ny(4, 10), **customer("Umbrella Pharmaceuticals"))
    submit_as(acme, now=ny(5, 10), **customer("Wayne Aerospace"))
    # The same customer at another tenant is no conflict of acme's.
    submit_as(globex, now=ny(3, 10), **same)
    with acme.scope():
        assert second.conflicts.get().other_registration == first
    assert compute(acme, "dealreg.conflict_rate") == Decimal("50.0")
    assert compute(globex, "dealreg.conflict_rate") == Decimal("0.0")
    # Only those submitted in the period: the first was the older one.
    in_march_3 = Period(date(2026, 3, 3), date(2026, 3, 5))
    assert compute(acme, "dealreg.conflict_rate", in_march_3) == Decimal("33.3")
    assert compute(acme, "dealreg.conflict_rate", APRIL) is None


# --- Outcomes -------------------------------------------------------------------------------


def test_win_rate_among_registrations_closed_in_the_period(acme, globex):
    won(acme, "100.00", date(2026, 3, 5))
    won(acme, "100.00", date(2026, 4, 1))  # April
    won(acme, "100.00", date(2026, 3, 10), status=Status.REVERSED)
    # Lost deals close on the day the loss is recorded, in New York.
    stored(acme, status=Status.LOST, outcome_recorded_at=ny(31, 23, 30))
    stored(acme, status=Status.LOST, outcome_recorded_at=ny(1, 0, 30, month=4))
    stored(acme)  # still open
    won(globex, "100.00", date(2026, 3, 5))
    assert compute(acme, "dealreg.win_rate") == Decimal("33.3")
    assert compute(acme, "dealreg.win_rate", APRIL) == Decimal("50.0")
    assert compute(globex, "dealreg.win_rate") == Decimal("100.0")
    only_other = Filters(partner_type=Partner.Type.MSP)
    assert compute(acme, "dealreg.win_rate", filters=only_other) is None


def test_conversion_of_the_cohort_approved_in_the_period(acme):
    march, april = ny(15, 10), ny(2, 10, month=4)
    won(acme, "100.00", date(2026, 4, 20), decided_at=march)
    stored(acme, status=Status.LOST, decided_at=march)
    stored(acme, status=Status.APPROVED, decided_at=march)
    stored(acme, status=Status.WITHDRAWN, decided_at=march)
    won(acme, "100.00", date(2026, 4, 20), status=Status.REVERSED, decided_at=march)
    stored(acme, status=Status.REJECTED, decided_at=march)  # not approved
    won(acme, "100.00", date(2026, 4, 20), decided_at=april)
    assert compute(acme, "dealreg.conversion") == Decimal("20.0")
    assert compute(acme, "dealreg.conversion", APRIL) == Decimal("100.0")


def test_every_metric_is_declared_once_with_its_permission():
    keys = [m.key for m in metrics.METRICS]
    assert len(keys) == len(set(keys)) == 12
    assert all(k.startswith("dealreg.") for k in keys)
    shares = {"dealreg.channel_pipeline_share", "dealreg.channel_revenue_contribution"}
    for m in metrics.METRICS:
        expected = ("dealreg.view_directopportunity",) if m.key in shares else metrics.VIEW
        assert m.perms == expected


def test_each_metric_answers_in_a_few_queries(
    acme, decided_in_march, django_assert_max_num_queries
):
    # The turnaround reads the calendar (settings, closure days) besides the rows.
    limits = {
        "dealreg.turnaround_median": 3,
        "dealreg.turnaround_p90": 3,
        "dealreg.channel_pipeline_share": 2,
        "dealreg.channel_revenue_contribution": 2,
    }
    with acme.scope():
        for m in metrics.METRICS:
            with django_assert_max_num_queries(limits.get(m.key, 1)):
                m.compute(acme.tenant, MARCH, Filters(tier=acme.partner.tier_id))
