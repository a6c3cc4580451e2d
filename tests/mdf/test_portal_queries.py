"""The overview and the request list cost the same number of queries
whatever the number of allocations, requests and claims; the home card's
counts are two queries; the menu entry and the card are declared."""

import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mdf import claims, portal, requests
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal


def grow(world, alloc, n):
    """``n`` more requests: drafts, a submitted one, an approved one claimed
    and approved (a reimbursement)."""
    member = world[Role.PARTNER_USER]
    with world.scope():
        for _ in range(n - 2):
            requests.save_request(b.request_data(alloc, amount=D("10")), by=member)
        b.submitted(world, alloc, amount=D("10"))
        req = b.approved(world, alloc, amount=D("100"), cost=D("200"))
        claim = b.submitted_claim(world, req, amount=D("100"), cost=D("200"))
        claims.approve_claim(claim, by=world[Role.FINANCE])


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("url", ["/funds/", "/funds/requests/"])
def test_query_count_does_not_grow_with_the_rows(acme, url, django_assert_max_num_queries):
    with acme.scope():
        fund = b.fund_type(acme)
        first = b.allocation(acme, D("100000"), fund=fund)
        b.allocation(acme, D("5000"), fund=b.fund_type(acme, name="Co-op"))
    client = acme.client(Role.PARTNER_USER)
    grow(acme, first, 3)
    few = queries(client, url)
    grow(acme, first, 25)
    many = queries(client, url)
    assert many == few
    with django_assert_max_num_queries(few):
        client.get(url)


def test_the_overview_spends_its_time_in_sql_not_python(acme, capsys):
    """Profile: 25 requests (Python time within a few times SQL time)."""
    with acme.scope():
        first = b.allocation(acme, D("100000"))
    grow(acme, first, 25)
    client = acme.client(Role.PARTNER_USER)
    client.get("/funds/")  # warm the template cache
    sql = 0.0
    total = 0.0
    for _ in range(5):

        def timed(execute, sql_text, params, many, context):
            nonlocal sql
            started = time.perf_counter()
            try:
                return execute(sql_text, params, many, context)
            finally:
                sql += time.perf_counter() - started

        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            assert client.get("/funds/").status_code == 200
        total += time.perf_counter() - started
    python = total - sql
    with capsys.disabled():
        print(
            f"\n/funds/ with 25 requests: {total / 5 * 1000:.1f} ms a page, "
            f"SQL {sql / 5 * 1000:.1f} ms, Python {python / 5 * 1000:.1f} ms"
        )
    assert python < 6 * sql + 0.05 * 5  # a few times SQL (50 ms a page of slack)


def test_the_home_card_counts(acme, django_assert_max_num_queries, time_machine):
    with acme.scope():
        alloc = b.allocation(acme, D("10000"))
        pending = b.submitted(acme, alloc, amount=D("100"))
        asked = b.submitted(acme, alloc, amount=D("100"))
        requests.request_info(asked, by=acme[Role.CHANNEL_MANAGER], message="Why?")
        approved = b.approved(acme, alloc, amount=D("1000"))
    time_machine.move_to(b.after(approved, 50))  # the window (60 days) closes in 10
    member = acme[Role.PARTNER_ADMIN]
    with acme.scope(), django_assert_max_num_queries(2):
        counts = portal.partner_counts(member)
    texts = [c.text for c in counts]
    assert "1 question from the vendor to answer" in texts
    assert "1 activity to claim within 14 days" in texts
    assert "1 request awaiting a decision" in texts
    assert "9,000.00 USD available to request" in texts
    assert pending.code  # (the submitted one counted above)


def test_nav_and_card_are_for_partner_people():
    [entry] = portal.NAV
    assert entry.url_name == "mdf:funds" and entry.perms == ("portal.mdf",)
    assert 200 < entry.order < 900  # after Deals (100) and Statements (200)
    [card] = portal.CARDS
    assert card.perms == ("portal.mdf",) and card.counts is portal.partner_counts
