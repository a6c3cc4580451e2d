"""The closed loop (mdf.roi): spend, sourced pipeline, won revenue, ROI and
cost per lead per activity, partner, fund type and period."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from dealreg.models import DealRegistration
from incentives.models import ExchangeRate
from mdf import roi
from mdf.models import ActivityLead, Claim, FundRequest
from prm.tenancy.declarations import Period
from prm.tenancy.roles import Role

from . import roi_factories as f

pytestmark = pytest.mark.django_db

RegStatus = DealRegistration.Status
MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))


def at(day, month=3):
    return datetime(2026, month, day, 15, tzinfo=UTC)


@pytest.fixture
def loop(acme):
    """Two activities of acme's partner (one of them with a claim approved
    in March), one of the other partner's, and sourced registrations."""
    with acme.scope():
        mdf = f.make_fund_type(acme, "MDF")
        coop = f.make_fund_type(acme, "Co-op", percent="100")
        q1 = f.make_budget(acme, mdf)
        q1_coop = f.make_budget(acme, coop)
        mine = f.make_allocation(acme, q1)
        theirs = f.make_allocation(acme, q1, partner=acme.other_partner)
        coop_alloc = f.make_allocation(acme, q1_coop)
        event = f.make_request(acme, mine, title="Spring event")
        f.make_claim(acme, event, cost="4000", reimbursement="2000", leads=40, decided_at=at(10))
        webinar = f.make_request(acme, coop_alloc, title="Webinar")
        f.make_claim(
            acme, webinar, cost="1000", reimbursement="1000", leads=10, decided_at=at(5, 2)
        )
        other = f.make_request(acme, theirs, title="Their show")
        f.make_claim(acme, other, cost="3000", reimbursement="1500", decided_at=at(12))
        draft = f.make_request(acme, mine, status=FundRequest.Status.DRAFT, title="Draft")
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2026, 1, 1), rate=Decimal("1.1")
        )
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2026, 3, 15), rate=Decimal("1.2")
        )
        regs = {
            "open": f.make_registration(acme, value="10000"),
            "open_eur": f.make_registration(acme, value="1000", currency="EUR"),
            "won": f.make_registration(acme, status=RegStatus.WON, won="8000"),
            "won_eur": f.make_registration(
                acme, status=RegStatus.WON, won="1000", won_currency="EUR", won_on=date(2026, 3, 1)
            ),
            "lost": f.make_registration(acme, status=RegStatus.LOST, value="99999"),
            "reversed": f.make_registration(acme, status=RegStatus.REVERSED, won="5000"),
        }
        for reg in regs.values():
            f.source(acme, reg, event)
        webinar_won = f.make_registration(acme, status=RegStatus.WON, won="3000")
        f.source(acme, webinar_won, webinar)
        their_won = f.make_registration(
            acme, partner=acme.other_partner, status=RegStatus.WON, won="6000"
        )
        f.source(acme, their_won, other)
        f.source(acme, f.make_registration(acme), draft)  # not a funded activity
        for n in range(3):
            ActivityLead.objects.create(
                tenant=acme.tenant,
                request=webinar,
                name=f"Lead {n}",
                email=f"lead{n}@example.com",
                uploaded_by=acme[Role.PARTNER_USER].user,
            )
    return {"event": event, "webinar": webinar, "other": other, "regs": regs}


def test_per_activity(acme, loop, django_assert_max_num_queries):
    with acme.scope(), django_assert_max_num_queries(1):
        rows = {r.key: r for r in roi.roi_rows(acme.tenant, today=date(2026, 4, 1))}
    assert set(rows) == {loop["event"].pk, loop["webinar"].pk, loop["other"].pk}
    event = rows[loop["event"].pk]
    assert event.spent == Decimal("4000")
    assert event.vendor_spend == Decimal("2000")
    assert event.partner_contribution == Decimal("2000")
    # 10 000 + 1 000 EUR at today's 1.2; lost and won deals are not pipeline.
    assert event.sourced_pipeline == Decimal("11200.00")
    # 8 000 + 1 000 EUR at the close date's 1.1; the reversed win does not count.
    assert event.won_revenue == Decimal("9100.00")
    assert event.roi == Decimal("4.55")
    assert event.registrations == 6
    assert event.leads == 40  # none uploaded: the claim's reported leads
    assert event.cost_per_lead == Decimal("50.00")
    webinar = rows[loop["webinar"].pk]
    assert webinar.leads == 3  # uploaded leads win over the 10 reported
    assert webinar.cost_per_lead == Decimal("333.33")
    assert webinar.roi == Decimal("3.00")


def test_no_spend_no_roi(acme):
    with acme.scope():
        allocation = f.make_allocation(acme, f.make_budget(acme, f.make_fund_type(acme)))
        request = f.make_request(acme, allocation)
        f.source(acme, f.make_registration(acme, status=RegStatus.WON, won="500"), request)
        (row,) = roi.roi_rows(acme.tenant)
    assert row.vendor_spend == 0 and row.won_revenue == Decimal("500")
    assert row.roi is None and row.cost_per_lead is None


def test_groups(acme, loop, django_assert_max_num_queries):
    with acme.scope():
        with django_assert_max_num_queries(1):
            partners = roi.roi_rows(acme.tenant, group="partner")
        by_partner = {r.key: r for r in partners}
        mine = by_partner[acme.partner.pk]
        assert mine.vendor_spend == Decimal("3000")
        assert mine.spent == Decimal("5000")
        assert by_partner[acme.other_partner.pk].won_revenue == Decimal("6000.00")
        by_type = {r.label: r for r in roi.roi_rows(acme.tenant, group="fund_type")}
        assert by_type["Co-op"].vendor_spend == Decimal("1000")
        assert by_type["MDF"].vendor_spend == Decimal("3500")
        (q1,) = roi.roi_rows(acme.tenant, group="period")
        assert q1.label == "Q1 FY2026" and q1.vendor_spend == Decimal("4500")
        assert roi.totals(partners).vendor_spend == Decimal("4500")


def test_period_and_partner_filters(acme, loop):
    with acme.scope():
        march = roi.roi_rows(acme.tenant, period=MARCH, partner_ids=[acme.partner.pk])
    assert [r.key for r in march] == [loop["event"].pk]


def test_drill_down(acme, globex, loop):
    with acme.scope():
        (event,) = [r for r in roi.roi_rows(acme.tenant) if r.key == loop["event"].pk]
        found = set(roi.sourced_registrations(acme.tenant, requests=event.activities))
        won = roi.sourced_registrations(
            acme.tenant, requests=event.activities, status=[RegStatus.WON]
        )
        assert found == set(loop["regs"].values())
        assert set(won) == {loop["regs"]["won"], loop["regs"]["won_eur"]}
        everything = roi.sourced_registrations(acme.tenant)
        assert everything.count() == 8  # the draft's is not counted
    with globex.scope():
        assert roi.roi_rows(globex.tenant) == []
        assert not roi.sourced_registrations(globex.tenant).exists()


def test_unapproved_claim_is_no_spend(acme):
    with acme.scope():
        allocation = f.make_allocation(acme, f.make_budget(acme, f.make_fund_type(acme)))
        request = f.make_request(acme, allocation)
        f.make_claim(acme, request, status=Claim.Status.SUBMITTED)
        (row,) = roi.roi_rows(acme.tenant)
    assert row.spent == 0 and row.vendor_spend == 0
