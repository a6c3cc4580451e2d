"""Fund requests and allocations through the API (mdf.api): a partner's
people propose, change, submit, answer and cancel activities through
``mdf.requests`` as the portal does; channel managers (their partners'),
ops and finance (second approvals) decide as in the admin; the
``mdf_request.approved`` / ``mdf_request.rejected`` events."""

from decimal import Decimal

import pytest

from mdf import requests
from mdf.models import FundRequest
from prm.tenancy.roles import Role
from tests import factories

from . import mdf_helpers as mdf
from .conftest import ApiClient, make_key
from .incentives_helpers import endpoint, events_of, pending_deliveries

pytestmark = pytest.mark.django_db

REQUESTS = "/api/v1/mdf-requests/"
ALLOCATIONS = "/api/v1/mdf-allocations/"


@pytest.fixture
def alloc(acme):
    with acme.scope():
        return mdf.allocation(acme)


def count() -> int:
    return FundRequest.objects.count()


class TestPropose:
    def test_a_draft_then_submitted_once(self, acme, alloc, api):
        client = api(acme, Role.PARTNER_USER)
        body = mdf.request_body(alloc)
        made = client.post(REQUESTS, body, **{"Idempotency-Key": "webinar-1"})
        assert made.status_code == 201, made.content
        draft = made.json()
        assert draft["status"] == "draft" and draft["code"].startswith("FR-")
        assert draft["total_cost"] == "4000.00" and draft["requested_amount"] == "2000.00"
        assert draft["partner_contribution"] == "2000.00" and draft["currency"] == "USD"
        assert draft["reimbursement_percent"] == "50"
        assert draft["cost_lines"][1] == {"description": "Promotion", "amount": "2500.00"}
        assert draft["approved_amount"] is None and "approver" not in draft
        again = client.post(REQUESTS, body, **{"Idempotency-Key": "webinar-1"})
        assert again.json() == draft and again["Idempotent-Replayed"] == "true"
        with acme.scope():
            assert count() == 1
        # Staff never see a draft.
        assert api(acme, Role.OPS_ADMIN).get(f"{REQUESTS}{draft['id']}/").status_code == 404
        submitted = client.post(f"{REQUESTS}{draft['id']}/submit/")
        assert submitted.status_code == 200, submitted.content
        assert submitted.json()["status"] == "submitted"
        assert client.post(f"{REQUESTS}{draft['id']}/submit/").status_code == 409
        staff = api(acme, Role.CHANNEL_MANAGER).get(f"{REQUESTS}{draft['id']}/").json()
        assert staff["approver"]["email"] == acme[Role.CHANNEL_MANAGER].user.email

    def test_submitted_at_once_and_changed_only_while_a_draft(self, acme, alloc, api):
        client = api(acme, Role.PARTNER_ADMIN)
        made = client.post(REQUESTS, mdf.request_body(alloc, submit=True)).json()
        assert made["status"] == "submitted"
        refused = client.patch(f"{REQUESTS}{made['id']}/", {"title": "Renamed"})
        assert refused.status_code == 409
        draft = client.post(REQUESTS, mdf.request_body(alloc)).json()
        lines = [{"description": "Platform", "amount": "1000"}]
        changed = client.patch(
            f"{REQUESTS}{draft['id']}/",
            {"title": "Renamed", "cost_lines": lines, "requested_amount": "500"},
        )
        assert changed.status_code == 200, changed.content
        body = changed.json()
        assert body["title"] == "Renamed" and body["total_cost"] == "1000.00"
        assert body["description"] == draft["description"]
        submitted = client.patch(f"{REQUESTS}{draft['id']}/", {"submit": True})
        assert submitted.json()["status"] == "submitted"

    def test_bad_requests_get_field_errors_and_save_nothing(self, acme, alloc, api):
        client = api(acme, Role.PARTNER_USER)
        bad = client.post(
            REQUESTS,
            mdf.request_body(
                alloc, title="", activity_type="party", cost_lines=[], requested_amount="-5"
            ),
        )
        assert bad.status_code == 422
        fields = {e["field"] for e in bad.json()["errors"]}
        assert {"title", "activity_type", "cost_lines", "requested_amount"} <= fields
        # The service's rules, on the field they are about.
        over = client.post(REQUESTS, mdf.request_body(alloc, requested_amount="2500"))
        assert over.status_code == 422
        assert over.json()["errors"][0]["field"] == "requested_amount"
        assert "at most" in over.json()["errors"][0]["message"]
        event = client.post(REQUESTS, mdf.request_body(alloc, activity_type="trade_show"))
        assert event.json()["errors"][0]["field"] == "activity_type"
        with acme.scope():
            theirs = mdf.allocation(acme, partner=acme.other_partner)
        other = client.post(REQUESTS, mdf.request_body(theirs))
        assert other.status_code == 422
        assert other.json()["errors"][0]["field"] == "allocation"
        assert "No allocation has the id" in other.json()["errors"][0]["message"]
        with acme.scope():
            assert count() == 0

    def test_roles(self, acme, alloc, api):
        body = mdf.request_body(alloc)
        for role in (Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE):
            assert api(acme, role).post(REQUESTS, body).status_code == 403, role
        with acme.scope():
            mine = mdf.submitted(acme, alloc)
            their_user = factories.make_member(
                acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="pu@two.test"
            )
            theirs = mdf.submitted(
                acme, mdf.allocation(acme, partner=acme.other_partner), member=their_user
            )
        client = api(acme, Role.PARTNER_USER)
        assert [r["id"] for r in client.get(REQUESTS).json()["results"]] == [str(mine.pk)]
        assert client.get(f"{REQUESTS}{theirs.pk}/").status_code == 404
        assert client.post(f"{REQUESTS}{theirs.pk}/cancel/").status_code == 404
        assert client.post(f"{REQUESTS}{mine.pk}/approve/").status_code == 403
        listed = api(acme, Role.EXECUTIVE).get(REQUESTS, {"status": "submitted"}).json()
        assert {r["id"] for r in listed["results"]} == {str(mine.pk), str(theirs.pk)}

    def test_answer_and_cancel(self, acme, alloc, api):
        with acme.scope():
            req = mdf.submitted(acme, alloc)
            requests.request_info(req, by=acme[Role.CHANNEL_MANAGER], message="Which venue?")
        client = api(acme, Role.PARTNER_USER)
        url = f"{REQUESTS}{req.pk}/"
        assert client.get(url).json()["status"] == "more_info_requested"
        assert client.post(f"{url}submit/").status_code == 409
        assert client.post(f"{url}answer/", {"message": " "}).status_code == 422
        answered = client.post(f"{url}answer/", {"message": "It is online."})
        assert answered.json()["status"] == "submitted"
        cancelled = client.post(f"{url}cancel/", {"reason": "Called off."})
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert client.post(f"{url}cancel/").status_code == 409

    def test_the_list_is_constant_in_queries(self, acme, alloc, api, django_assert_max_num_queries):
        client = api(acme, Role.OPS_ADMIN)
        with acme.scope():
            mdf.submitted(acme, alloc)
        with django_assert_max_num_queries(14) as few:
            assert client.get(REQUESTS).status_code == 200
        with acme.scope():
            for _ in range(4):
                mdf.approved(acme, alloc, amount="100")
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert len(client.get(REQUESTS).json()["results"]) == 5


class TestDecisions:
    def test_channel_manager_approves_in_part_and_the_event_says_so(self, acme, alloc, api):
        with acme.scope():
            hook = endpoint(acme, "mdf_request.approved", "mdf_request.rejected")
            req = mdf.submitted(acme, alloc)
        client = api(acme, Role.CHANNEL_MANAGER)
        url = f"{REQUESTS}{req.pk}/approve/"
        too_much = client.post(url, {"amount": "2500"})
        assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "amount"
        no_reason = client.post(url, {"amount": "1500"})
        assert no_reason.json()["errors"][0]["field"] == "reason"
        done = client.post(url, {"amount": "1500", "reason": "Promotion capped."})
        assert done.status_code == 200, done.content
        assert done.json()["status"] == "approved" and done.json()["approved_amount"] == "1500.00"
        assert done.json()["reserved"] == "1500.00"
        assert client.post(url, {}).status_code == 409
        with acme.scope():
            sent = events_of("mdf_request.approved")
            assert len(sent) == 1 and pending_deliveries(sent[0]) == 1
            assert sent[0].deliveries.get().endpoint_id == hook.pk
            assert events_of("mdf_request.rejected") == []
        assert sent[0].data == done.json()
        funds = api(acme, Role.PARTNER_USER).get(f"{ALLOCATIONS}{alloc.pk}/").json()
        assert funds["reserved"] == "1500.00" and funds["available"] == "8500.00"

    def test_rejected_with_a_reason_once(self, acme, alloc, api):
        with acme.scope():
            endpoint(acme, "mdf_request.rejected")
            req = mdf.submitted(acme, alloc)
        client = api(acme, Role.OPS_ADMIN)
        url = f"{REQUESTS}{req.pk}/reject/"
        assert client.post(url, {"reason": ""}).status_code == 422
        with acme.scope():
            assert events_of("mdf_request.rejected") == []
        done = client.post(url, {"reason": "Not our products."})
        assert done.json()["status"] == "rejected"
        assert client.post(url, {"reason": "Again."}).status_code == 409
        with acme.scope():
            sent = events_of("mdf_request.rejected")
        assert len(sent) == 1 and sent[0].data["decision_reason"] == "Not our products."

    def test_only_the_partners_channel_manager_decides(self, acme, alloc, api):
        with acme.scope():
            req = mdf.submitted(acme, alloc)
            acme.members["other_cm"] = factories.make_member(
                acme.tenant, Role.CHANNEL_MANAGER, email="cm2@acme.test"
            )
        _, token = make_key(acme, "other_cm")
        refused = ApiClient(acme.host, token).post(f"{REQUESTS}{req.pk}/approve/", {})
        assert refused.status_code == 403
        # Finance gives second approvals only: a first one is refused by the service.
        first = api(acme, Role.FINANCE).post(f"{REQUESTS}{req.pk}/approve/", {})
        assert first.status_code == 409
        with acme.scope():
            assert FundRequest.objects.get(pk=req.pk).status == "submitted"

    def test_a_large_request_is_decided_by_the_second_approval(self, acme, api):
        with acme.scope():
            alloc = mdf.allocation(acme, second_approval_above=Decimal("1000"))
            endpoint(acme, "mdf_request.approved")
            req = mdf.submitted(acme, alloc)
        url = f"{REQUESTS}{req.pk}/"
        first = api(acme, Role.CHANNEL_MANAGER).post(f"{url}approve/", {})
        assert first.json()["status"] == "submitted"
        assert first.json()["first_approved_by"]["email"] == acme[Role.CHANNEL_MANAGER].user.email
        assert api(acme, Role.PARTNER_USER).get(url).json()["approved_amount"] is None
        with acme.scope():
            assert events_of("mdf_request.approved") == []
        second = api(acme, Role.FINANCE).post(f"{url}approve/", {})
        assert second.json()["status"] == "approved"
        with acme.scope():
            assert len(events_of("mdf_request.approved")) == 1


class TestAllocations:
    def test_partners_see_their_own_funds(self, acme, alloc, api):
        with acme.scope():
            theirs = mdf.allocation(acme, "500", partner=acme.other_partner)
        client = api(acme, Role.PARTNER_USER)
        rows = client.get(ALLOCATIONS).json()["results"]
        assert [r["id"] for r in rows] == [str(alloc.pk)]
        row = rows[0]
        assert row["amount"] == "10000.00" and row["available"] == "10000.00"
        assert row["paid"] == "0.00" and row["currency"] == "USD"
        assert row["fund"]["required_documents"] == ["invoice"]
        assert row["period"]["starts_on"] <= acme.tenant.local_today().isoformat()
        assert "budget" not in row
        assert client.get(f"{ALLOCATIONS}{theirs.pk}/").status_code == 404
        staff = api(acme, Role.CHANNEL_MANAGER).get(ALLOCATIONS, {"current": "true"}).json()
        assert {r["id"] for r in staff["results"]} == {str(alloc.pk), str(theirs.pk)}
        assert (
            api(acme, Role.FINANCE).get(ALLOCATIONS, {"current": "false"}).json()["results"] == []
        )
