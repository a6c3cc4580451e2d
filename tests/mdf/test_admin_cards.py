"""The MDF cards of the staff home (mdf.staff_cards.CARDS): each count
links to the admin list filtered to exactly the rows it counts, and the
counts are one query or two."""

import datetime as dt
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from mdf import funds, periods, requests, staff_cards
from mdf.models import Claim, FundRequest
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal


def figure(text):
    return int(re.match(r"\d+", text).group())


def rows_behind(world, role, count):
    """How many rows the count's link lists, as that member."""
    response = world.client(role).get(count.url)
    assert response.status_code == 200, count.url
    return response.context["cl"].result_count


def test_request_counts_link_to_exactly_their_rows(acme):
    with acme.scope():
        fund = b.fund_type(acme, second_approval_above=D("3000"))
        alloc = b.allocation(acme, D("20000"), fund=fund)
        late = b.submitted(acme, alloc)
        b.submitted(acme, alloc)
        large = b.submitted(acme, alloc, amount=D("3500"), cost=D("8000"))
        requests.approve_request(large, by=acme[Role.CHANNEL_MANAGER])
        FundRequest.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    with acme.scope():
        cm = staff_cards.request_counts(acme[Role.CHANNEL_MANAGER])
        ops = staff_cards.request_counts(acme[Role.OPS_ADMIN])
        finance = staff_cards.request_counts(acme[Role.FINANCE])
        executive = staff_cards.request_counts(acme[Role.EXECUTIVE])
    assert [figure(c.text) for c in cm] == [2, 1]
    assert cm[1].urgent
    for count in cm:
        assert rows_behind(acme, "channel_manager", count) == figure(count.text)
    assert [figure(c.text) for c in ops] == [2, 1, 1]
    assert "second approval" in ops[2].text
    for count in ops:
        assert rows_behind(acme, "ops_admin", count) == figure(count.text)
    assert len(finance) == 1 and "second approval" in finance[0].text
    assert rows_behind(acme, "finance", finance[0]) == 1
    assert executive == []


def test_claim_counts_for_finance_and_the_channel_manager(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("20000"))
        first = b.submitted_claim(acme, b.approved(acme, alloc), supplier="Same", number="1")
        second = b.submitted_claim(acme, b.approved(acme, alloc), supplier="Same", number="1")
        Claim.objects.filter(pk=first.pk).update(due_at=timezone.now() - timedelta(hours=1))
        finance = staff_cards.claim_counts(acme[Role.FINANCE])
        cm = staff_cards.claim_counts(acme[Role.CHANNEL_MANAGER])
        executive = staff_cards.claim_counts(acme[Role.EXECUTIVE])
    # The same invoice on both: each names the other.
    assert [figure(c.text) for c in finance] == [2, 1, 2]
    assert "claimed elsewhere" in finance[2].text and finance[2].urgent
    for count in finance:
        assert rows_behind(acme, "finance", count) == figure(count.text)
    assert [figure(c.text) for c in cm] == [2]
    assert rows_behind(acme, "channel_manager", cm[0]) == 2
    assert executive == []
    second.refresh_from_db()
    assert second.duplicate_of == [first.code]


def test_budget_counts(acme, django_assert_max_num_queries):
    with acme.scope():
        alloc = b.allocation(acme, D("10000"))
        b.approved(acme, alloc, amount=D("2000"))
        with django_assert_max_num_queries(3):
            counts = staff_cards.budget_counts(acme[Role.OPS_ADMIN])
    assert "10,000.00" in counts[0].text and "90,000.00" in counts[0].text
    assert "2,000.00" in counts[1].text and "reserved" in counts[1].text
    assert rows_behind(acme, "ops_admin", counts[0]) == 1


def test_budget_counts_flag_funds_about_to_expire(acme):
    with acme.scope():
        fund = b.fund_type(acme)
        year, number = periods.period_of(acme.tenant, "quarter", acme.tenant.local_today())
        _, end = periods.period_dates(acme.tenant, "quarter", year, number)
        budget = funds.create_budget(
            acme.tenant,
            by=acme[Role.OPS_ADMIN],
            fund_type=fund,
            span="quarter",
            fiscal_year=year,
            number=number,
            amount=D("1000"),
        )
        funds.allocate(budget, acme.partner, D("500"), by=acme[Role.OPS_ADMIN])
    ten_days_before = dt.datetime.combine(end - timedelta(days=10), dt.time(12), tzinfo=dt.UTC)
    with time_machine.travel(ten_days_before, tick=False):
        with acme.scope():
            counts = staff_cards.budget_counts(acme[Role.OPS_ADMIN])
        expiring = [c for c in counts if "expiring" in c.text]
        assert expiring and expiring[0].urgent
        assert rows_behind(acme, "ops_admin", expiring[0]) == 1
    with acme.scope():
        before = dt.datetime.combine(end - timedelta(days=45), dt.time(12), tzinfo=dt.UTC)
        with time_machine.travel(before, tick=False):
            counts = staff_cards.budget_counts(acme[Role.OPS_ADMIN])
        assert not [c for c in counts if "expiring" in c.text]


def test_the_cards_are_declared_for_the_right_people():
    keys = {card.key: card for card in staff_cards.CARDS}
    assert set(keys["mdf.requests"].perms) == {
        "mdf.decide_fundrequest",
        "mdf.approve_large_fundrequest",
    }
    assert keys["mdf.claims"].perms == ("mdf.decide_claim", "mdf.verify_claim")
    assert keys["mdf.fund_types"].setup and keys["mdf.settings"].setup


@pytest.mark.parametrize("role", ["ops_admin", "channel_manager", "finance", "executive"])
def test_the_staff_home_shows_the_mdf_cards(acme, role):
    """Once declared (mdf/declare.py cards=CARDS): the home page renders
    them for the staff who hold their permissions."""
    from prm.tenancy import registry

    if not any(card.key == "mdf.requests" for card in registry.cards()):
        pytest.skip("the MDF cards are not declared yet")
    with acme.scope():
        b.submitted(acme, b.allocation(acme, D("5000")))
    response = acme.client(role).get("/")
    assert response.status_code == 200
    page = response.content.decode()
    expected = {
        "ops_admin": ["Fund requests", "MDF budgets"],
        "channel_manager": ["Fund requests"],
        "finance": ["MDF claims", "MDF budgets"],
        "executive": [],
    }[role]
    for title in expected:
        assert title in page, (role, title)
    if role == "executive":
        assert "Fund requests" not in page
