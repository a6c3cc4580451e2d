"""The MDF ROI page of the tenant admin: mdf.roi's rows per activity,
partner, fund type or period, drilling down to the registrations a row
counts; staff only, the tenant's own figures only."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from dealreg.models import DealRegistration
from mdf import roi

from . import roi_factories as f

pytestmark = pytest.mark.django_db
URL = reverse("tenant_admin:mdf_fundrequest_roi")
Won = DealRegistration.Status.WON


@pytest.fixture
def activity(acme):
    with acme.scope():
        fund = f.make_fund_type(acme, "MDF")
        alloc = f.make_allocation(acme, f.make_budget(acme, fund))
        event = f.make_request(acme, alloc, title="Spring event")
        f.make_claim(
            acme,
            event,
            cost="4000",
            reimbursement="2000",
            leads=40,
            decided_at=datetime(2026, 3, 10, 15, tzinfo=UTC),
        )
        won = f.make_registration(acme, status=Won, won="8000")
        f.source(acme, won, event)
        f.source(acme, f.make_registration(acme, value="10000"), event)
        return event, won


@pytest.mark.parametrize("role", ["ops_admin", "channel_manager", "finance", "executive"])
def test_staff_see_roi_per_activity(acme, activity, role):
    response = acme.client(role).get(URL)
    assert response.status_code == 200
    row = response.context["rows"][0]["row"]
    assert (row.vendor_spend, row.won_revenue, row.roi) == (f.D("2000"), f.D("8000"), f.D("4.00"))
    page = response.content.decode()
    assert "4.00\u00d7" in page and "Spring event" in page


def test_grouping_and_drill_down_to_the_registrations(acme, activity):
    _, won = activity
    client = acme.client("ops_admin")
    for group in ("partner", "fund_type", "period"):
        response = client.get(URL + f"?group={group}")
        assert len(response.context["rows"]) == 1, group
    key = response.context["rows"][0]["key"]
    drilled = client.get(URL + f"?group=period&row={key}")
    codes = {r.code for r in drilled.context["registrations"]}
    assert won.code in codes and len(codes) == 2
    link = reverse("tenant_admin:dealreg_dealregistration_change", args=[won.pk])
    assert link in drilled.content.decode()


def test_partners_cannot_and_other_tenants_see_nothing(acme, globex, activity):
    assert acme.client("partner_admin").get(URL).status_code == 403
    response = globex.client("ops_admin").get(URL)
    assert response.status_code == 200 and response.context["rows"] == []
    event, _ = activity
    drilled = globex.client("ops_admin").get(URL + f"?row={event.pk}")
    assert drilled.context["registrations"] == []


def test_the_roi_page_is_one_query_for_the_figures(acme, activity, django_assert_max_num_queries):
    client = acme.client("finance")
    client.get(URL)
    with django_assert_max_num_queries(12) as few:
        client.get(URL)
    with acme.scope():
        event, _ = activity
        for n in range(4):
            more = f.make_request(acme, event.allocation, title=f"More {n}")
            f.make_claim(
                acme,
                more,
                cost="100",
                reimbursement="50",
                decided_at=datetime(2026, 3, 11, tzinfo=UTC),
            )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL)
    assert len(response.context["rows"]) == 5
    assert roi  # the page reads mdf.roi


def test_a_period_keeps_the_activities_whose_claim_was_approved_in_it(acme, activity):
    client = acme.client("ops_admin")
    march = client.get(URL + "?from=2026-03-01&to=2026-03-31")
    assert len(march.context["rows"]) == 1
    assert 'value="2026-03-01"' in march.content.decode()
    april = client.get(URL + "?from=2026-04-01&to=2026-04-30")
    assert april.context["rows"] == []
    bad = client.get(URL + "?from=2026-04-30&to=2026-04-01")
    assert bad.status_code == 200 and len(bad.context["rows"]) == 1  # all time, with a word
