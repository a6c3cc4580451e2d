"""Payout runs and their lines through the API (read, finance and
executives), and the ``payout_run.approved`` / ``payout_run.paid`` events
the payout services emit."""

import pytest

from incentives import payouts
from incentives.models import PayoutRun
from prm.tenancy.roles import Role

from .incentives_helpers import (
    approved_run,
    book,
    computed_run,
    endpoint,
    events_of,
    pending_deliveries,
    without_urls,
)

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/payout-runs/"
LINES = "/api/v1/payout-lines/"


def test_finance_and_executives_read_runs_others_are_refused(acme, api):
    with acme.scope():
        book(acme, "120.00")
        run = computed_run(acme)
    for role in (Role.FINANCE, Role.EXECUTIVE):
        found = api(acme, role).get(f"{RUNS}{run.pk}/")
        assert found.status_code == 200, found.content
        body = found.json()
        assert body["reference"] == run.reference and body["status"] == "review"
        assert body["total_payable"] == "120.00" and body["currency"] == "USD"
        assert body["minimum_payout"] == "50.00"
        assert body["created_by"]["email"] == acme[Role.FINANCE].user.email
    for role in (Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.PARTNER_ADMIN, Role.PARTNER_USER):
        assert api(acme, role).get(RUNS).status_code == 403, role
        assert api(acme, role).get(f"{RUNS}{run.pk}/").status_code == 403, role


def test_a_runs_lines_by_partner(acme, api):
    with acme.scope():
        book(acme, "120.00")
        book(acme, "20.00", partner=acme.other_partner)
        run = computed_run(acme)
    client = api(acme, Role.FINANCE)
    body = client.get(f"{RUNS}{run.pk}/").json()
    lines = client.get(body["lines_url"]).json()["results"]
    by_partner = {row["partner"]["name"]: row for row in lines}
    assert by_partner[acme.partner.name]["status"] == "ready"
    assert by_partner[acme.partner.name]["payable"] == "120.00"
    assert by_partner[acme.other_partner.name]["status"] == "below_minimum"
    assert all(row["run"] == {"id": str(run.pk), "reference": run.reference} for row in lines)
    ready = client.get(LINES, {"run": str(run.pk), "status": "ready"}).json()["results"]
    assert [row["partner"]["id"] for row in ready] == [str(acme.partner.pk)]
    assert client.get(LINES, {"status": "lost"}).status_code == 422


def test_filters_and_constant_queries(acme, api, django_assert_max_num_queries):
    with acme.scope():
        book(acme, "120.00")
        first = approved_run(acme)
    client = api(acme, Role.EXECUTIVE)
    with django_assert_max_num_queries(12) as few:
        assert client.get(RUNS).status_code == 200
    with acme.scope():
        for _ in range(3):
            book(acme, "80.00")
            payouts.mark_paid(
                PayoutRun.objects.get(status="approved"), by=acme[Role.FINANCE], reference="B1"
            )
            approved_run(acme)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(RUNS).json()["results"]) == 4
    paid = [r["id"] for r in client.get(RUNS, {"status": "paid"}).json()["results"]]
    assert len(paid) == 3 and str(first.pk) in paid


class TestEvents:
    def test_approved_once_its_payouts_are_written(self, acme, api):
        with acme.scope():
            endpoint(acme, "payout_run.approved", "payout_run.paid")
            book(acme, "120.00")
            run = payouts.approve(computed_run(acme), by=acme.second(Role.FINANCE))
            # Approving queues the writing; the run is not approved yet.
            assert run.status == "approving"
            assert events_of("payout_run.approved") == []
            run = payouts.write_payouts(run)
            payouts.write_payouts(run)  # a second worker finds it done
            sent = events_of("payout_run.approved")
            assert len(sent) == 1 and pending_deliveries(sent[0]) == 1
        data = sent[0].data
        assert data["status"] == "approved" and data["total_payable"] == "120.00"
        assert data["approved_by"]["email"] == acme.second(Role.FINANCE).user.email
        shown = api(acme, Role.FINANCE).get(f"{RUNS}{run.pk}/").json()
        assert without_urls(data) == without_urls(shown)
        with acme.scope():
            assert events_of("payout_run.paid") == []

    def test_paid_with_the_payment_reference(self, acme):
        with acme.scope():
            book(acme, "120.00")
            run = approved_run(acme)
            endpoint(acme, "payout_run.paid")
            with pytest.raises(payouts.PayoutError):
                payouts.mark_paid(run, by=acme[Role.FINANCE], reference="  ")
            assert events_of("payout_run.paid") == []
            payouts.mark_paid(run, by=acme[Role.FINANCE], reference="BACS-42")
            with pytest.raises(payouts.PayoutError):  # paid already
                payouts.mark_paid(run, by=acme[Role.FINANCE], reference="BACS-43")
            sent = events_of("payout_run.paid")
            assert len(sent) == 1 and pending_deliveries(sent[0]) == 1
        assert sent[0].data["status"] == "paid"
        assert sent[0].data["payment_reference"] == "BACS-42"
        assert sent[0].data["id"] == str(run.pk)
