"""Disputes through the API: partner admins open them on their own
organisation's ledger entries and write in their threads (through
``incentives.disputes``, as the portal does); finance reads every
partner's and answers; everyone else is refused."""

import pytest

from incentives import disputes
from incentives.models import Dispute, DisputeMessage
from prm.tenancy.roles import Role
from tests import factories

from .incentives_helpers import book

pytestmark = pytest.mark.django_db

DISPUTES = "/api/v1/disputes/"


def test_partner_admin_opens_a_dispute_once(acme, api):
    with acme.scope():
        entry = book(acme, "25.00")
    client = api(acme, Role.PARTNER_ADMIN)
    body = {"entry": str(entry.pk), "message": "The deal closed higher than this."}
    first = client.post(DISPUTES, body, **{"Idempotency-Key": "dispute-1"})
    assert first.status_code == 201, first.content
    made = first.json()
    assert made["code"].startswith("DP-") and made["status"] == "open"
    assert made["entry"]["id"] == str(entry.pk) and made["entry"]["amount"] == "25.00"
    assert made["messages"] == [
        {
            "author": {"name": acme[Role.PARTNER_ADMIN].user.get_full_name()},
            "from_partner": True,
            "body": "The deal closed higher than this.",
            "created_at": made["messages"][0]["created_at"],
        }
    ]
    again = client.post(DISPUTES, body, **{"Idempotency-Key": "dispute-1"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == made
    # Another message about the same line: it is disputed already.
    other = client.post(DISPUTES, {**body, "message": "And the date is wrong."})
    assert other.status_code == 409
    assert made["code"] in other.json()["detail"]
    with acme.scope():
        assert Dispute.objects.count() == 1
        assert DisputeMessage.objects.count() == 1


def test_bad_disputes_are_refused_and_change_nothing(acme, api):
    with acme.scope():
        theirs = book(acme, "25.00", partner=acme.other_partner)
        mine = book(acme, "30.00")
    client = api(acme, Role.PARTNER_ADMIN)
    # Another partner's entry reads as one that does not exist.
    other = client.post(DISPUTES, {"entry": str(theirs.pk), "message": "Not ours?"})
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "entry"
    assert "No ledger entry has the id" in other.json()["errors"][0]["message"]
    blank = client.post(DISPUTES, {"entry": str(mine.pk), "message": "   "})
    assert blank.status_code == 422
    assert blank.json()["errors"] == [
        {"field": "message", "message": "Write what is wrong with this line."}
    ]
    missing = client.post(DISPUTES, {"entry": "not-an-id"})
    assert {e["field"] for e in missing.json()["errors"]} == {"entry", "message"}
    with acme.scope():
        assert Dispute.objects.count() == 0


def test_who_may_open_and_read_disputes(acme, api):
    with acme.scope():
        entry = book(acme, "25.00")
        dispute = disputes.open_dispute(entry, by=acme[Role.PARTNER_ADMIN], message="Wrong.")
        theirs = book(acme, "10.00", partner=acme.other_partner)
    body = {"entry": str(entry.pk), "message": "Wrong."}
    for role in (Role.PARTNER_USER, Role.FINANCE, Role.OPS_ADMIN, Role.CHANNEL_MANAGER):
        assert api(acme, role).post(DISPUTES, body).status_code == 403, role
    for role in (Role.FINANCE, Role.OPS_ADMIN, Role.EXECUTIVE, Role.PARTNER_ADMIN):
        listed = api(acme, role).get(DISPUTES).json()["results"]
        assert [d["id"] for d in listed] == [str(dispute.pk)], role
    for role in (Role.PARTNER_USER, Role.CHANNEL_MANAGER):
        assert api(acme, role).get(DISPUTES).status_code == 403, role
    assert api(acme, Role.FINANCE).get(DISPUTES, {"entry": str(theirs.pk)}).json()["results"] == []


def test_another_partners_dispute_is_404(acme, api):
    with acme.scope():
        entry = book(acme, "25.00", partner=acme.other_partner)
        # The other partner's admin (the world has no members of theirs).
        their_admin = factories.make_member(
            acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner, email="pa@two.test"
        )
        dispute = disputes.open_dispute(entry, by=their_admin, message="Wrong.")
    client = api(acme, Role.PARTNER_ADMIN)
    assert client.get(f"{DISPUTES}{dispute.pk}/").status_code == 404
    assert client.post(f"{DISPUTES}{dispute.pk}/reply/", {"body": "Hello"}).status_code == 404
    assert client.get(DISPUTES).json()["results"] == []


def test_the_thread_partner_and_finance_reply_until_it_is_closed(acme, api):
    with acme.scope():
        entry = book(acme, "25.00")
        dispute = disputes.open_dispute(entry, by=acme[Role.PARTNER_ADMIN], message="Wrong.")
    url = f"{DISPUTES}{dispute.pk}/reply/"
    finance = api(acme, Role.FINANCE)
    answered = finance.post(url, {"body": "We are checking with sales."})
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == "answered"
    assert [m["from_partner"] for m in answered.json()["messages"]] == [True, False]
    partner = api(acme, Role.PARTNER_ADMIN)
    reopened = partner.post(url, {"body": "Here is the order form."})
    assert reopened.json()["status"] == "open"
    assert partner.post(url, {"body": ""}).status_code == 422
    assert api(acme, Role.EXECUTIVE).post(url, {"body": "Hm."}).status_code == 403
    with acme.scope():
        disputes.reject(dispute, by=acme[Role.FINANCE], reason="The registration says 25.")
    closed = partner.post(url, {"body": "But…"})
    assert closed.status_code == 409
    assert "closed" in closed.json()["detail"]
    shown = partner.get(f"{DISPUTES}{dispute.pk}/").json()
    assert shown["status"] == "rejected" and shown["resolution"] == "The registration says 25."
    assert len(shown["messages"]) == 3
