"""Claims through the API (mdf.api): a partner's people claim an approved
activity with proof files as multipart/form-data, checked as the portal
checks uploads (``mdf.uploads`` through ``mdf.claims``); finance decides;
the ``claim.approved`` / ``claim.rejected`` / ``claim.paid`` events."""

import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from incentives import payouts
from incentives.models import LedgerEntry
from mdf import claims
from mdf.models import Claim, ProofFile
from prm.tenancy.roles import Role
from tests import factories

from . import mdf_helpers as mdf
from .incentives_helpers import endpoint, events_of, pending_deliveries, without_urls

pytestmark = pytest.mark.django_db

CLAIMS = "/api/v1/mdf-claims/"


@pytest.fixture
def activity(acme):
    """An approved webinar of today (claimable now): 2000 approved."""
    with acme.scope():
        return mdf.approved(acme, mdf.allocation(acme))


def fields(activity, **changes) -> dict:
    return {
        "request": str(activity.pk),
        "invoice_number": "INV-118",
        "invoice_date": activity.ends_on.isoformat(),
        "supplier": "Webinar Co.",
        "claimed_amount": "1800.00",
        "lines": [{"description": "Platform", "amount": "3600.00"}],
        "attendees": 180,
        "leads": 35,
        **changes,
    }


def pdf(name="invoice.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, mdf.PDF, content_type="application/pdf")


def multipart(api_client, path: str, data: dict, files: dict, method: str = "post", **headers):
    """``data`` and ``files`` as multipart/form-data (lines as JSON text)."""
    form = {k: (json.dumps(v) if isinstance(v, list) else v) for k, v in data.items()}
    form.update(files)
    headers = api_client._headers(headers)
    if method == "post":  # the test client encodes a POST's form itself
        return api_client.client.post(path, form, headers=headers)
    body = encode_multipart(BOUNDARY, form)
    return api_client.client.patch(path, body, content_type=MULTIPART_CONTENT, headers=headers)


class TestClaiming:
    def test_a_claim_with_its_invoice_submitted_once(self, acme, activity, api):
        client = api(acme, Role.PARTNER_USER)
        data = fields(activity, submit="true")
        made = multipart(
            client, CLAIMS, data, {"proof_invoice": pdf()}, **{"Idempotency-Key": "claim-1"}
        )
        assert made.status_code == 201, made.content
        claim = made.json()
        assert claim["status"] == "submitted" and claim["code"].startswith("FC-")
        assert claim["total_cost"] == "3600.00" and claim["claimed_amount"] == "1800.00"
        assert claim["lines"] == [{"description": "Platform", "amount": "3600.00"}]
        [proof] = claim["proofs"]
        assert proof["kind"] == "invoice" and proof["content_type"] == "application/pdf"
        assert proof["name"] == "invoice.pdf" and proof["size"] == len(mdf.PDF)
        assert "verified_by" not in claim and "duplicate_of" not in claim
        replay = multipart(
            client, CLAIMS, data, {"proof_invoice": pdf()}, **{"Idempotency-Key": "claim-1"}
        )
        assert replay.json() == claim and replay["Idempotent-Replayed"] == "true"
        with acme.scope():
            assert Claim.objects.count() == 1 and ProofFile.objects.count() == 1
        download = acme.client(Role.PARTNER_USER).get(proof["url"])
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == mdf.PDF
        staff = api(acme, Role.FINANCE).get(f"{CLAIMS}{claim['id']}/").json()
        assert staff["verified_by"] is None and staff["duplicate_of"] == []

    def test_uploads_are_checked_as_the_portal_checks_them(self, acme, activity, api):
        client = api(acme, Role.PARTNER_ADMIN)
        page = SimpleUploadedFile("invoice.pdf", b"<html><script>x</script></html>", "text/html")
        refused = multipart(client, CLAIMS, fields(activity), {"proof_invoice": page})
        assert refused.status_code == 422
        assert refused.json()["errors"] == [
            {
                "field": "proofs",
                "message": "invoice.pdf is not a PDF, PNG, JPEG, WebP, CSV or XLSX file "
                "(its content is HTML).",
            }
        ]
        unknown = multipart(client, CLAIMS, fields(activity), {"attachment": pdf()})
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "attachment"
        # Submitted without the invoice the fund requires: nothing is kept.
        bare = client.post(CLAIMS, fields(activity, submit=True))
        assert bare.status_code == 422 and bare.json()["errors"][0]["field"] == "proofs"
        lines = multipart(client, CLAIMS, {**fields(activity), "lines": "[oops"}, {})
        assert lines.json()["errors"][0]["field"] == "lines"
        with acme.scope():
            assert Claim.objects.count() == 0 and ProofFile.objects.count() == 0

    def test_a_draft_gets_its_proof_later_then_is_submitted(self, acme, activity, api):
        client = api(acme, Role.PARTNER_USER)
        draft = client.post(CLAIMS, fields(activity))
        assert draft.status_code == 201, draft.content
        url = f"{CLAIMS}{draft.json()['id']}/"
        assert api(acme, Role.FINANCE).get(url).status_code == 404  # staff: not yet
        missing = client.post(f"{url}submit/")
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "proofs"
        added = multipart(
            client, url, {"claimed_amount": "1700"}, {"proof_invoice": pdf()}, method="patch"
        )
        assert added.status_code == 200, added.content
        assert added.json()["claimed_amount"] == "1700.00" and len(added.json()["proofs"]) == 1
        assert added.json()["supplier"] == "Webinar Co."
        done = client.post(f"{url}submit/")
        assert done.status_code == 200 and done.json()["status"] == "submitted"
        assert client.patch(url, {"supplier": "Other"}).status_code == 409

    def test_what_may_be_claimed_and_by_whom(self, acme, activity, api):
        client = api(acme, Role.PARTNER_USER)
        too_much = client.post(CLAIMS, fields(activity, claimed_amount="1900"))
        assert too_much.status_code == 422
        assert too_much.json()["errors"][0]["field"] == "claimed_amount"
        for role in (Role.FINANCE, Role.OPS_ADMIN, Role.CHANNEL_MANAGER):
            assert api(acme, role).post(CLAIMS, fields(activity)).status_code == 403
        with acme.scope():
            pending = mdf.submitted(acme, mdf.allocation(acme))
            their_user = factories.make_member(
                acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="pu@two.test"
            )
            theirs = mdf.submitted(
                acme, mdf.allocation(acme, partner=acme.other_partner), member=their_user
            )
        not_approved = client.post(CLAIMS, fields(pending))
        assert not_approved.status_code == 409
        other = client.post(CLAIMS, fields(theirs))
        assert other.status_code == 422 and other.json()["errors"][0]["field"] == "request"
        with acme.scope():
            assert Claim.objects.count() == 0


class TestDecisions:
    def submitted_claim(self, acme, activity, api) -> dict:
        made = multipart(
            api(acme, Role.PARTNER_USER),
            CLAIMS,
            fields(activity, submit="true"),
            {"proof_invoice": pdf()},
        )
        assert made.status_code == 201, made.content
        return made.json()

    def test_finance_approves_and_the_reimbursement_is_owed(self, acme, activity, api):
        with acme.scope():
            hook = endpoint(acme, "claim.approved", "claim.rejected", "claim.paid")
        claim = self.submitted_claim(acme, activity, api)
        url = f"{CLAIMS}{claim['id']}/"
        assert api(acme, Role.CHANNEL_MANAGER).post(f"{url}approve/", {}).status_code == 403
        assert api(acme, Role.PARTNER_ADMIN).post(f"{url}approve/", {}).status_code == 403
        finance = api(acme, Role.FINANCE)
        lower = finance.post(f"{url}approve/", {"approved_cost": "3000"})
        assert lower.status_code == 422 and lower.json()["errors"][0]["field"] == "reason"
        done = finance.post(f"{url}approve/", {"approved_cost": "3000", "reason": "Ads capped."})
        assert done.status_code == 200, done.content
        assert done.json()["status"] == "approved"
        assert done.json()["reimbursement_amount"] == "1500.00"
        assert done.json()["paid_on"] is None
        assert finance.post(f"{url}reject/", {"reason": "No."}).status_code == 409
        with acme.scope():
            sent = events_of("claim.approved")
            assert len(sent) == 1 and pending_deliveries(sent[0]) == 1
            assert sent[0].deliveries.get().endpoint_id == hook.pk
            assert events_of("claim.rejected") == []
            owed = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REIMBURSEMENT)
        assert without_urls(sent[0].data) == without_urls(done.json())
        assert owed.amount == Decimal("1500.000")

    def test_rejected_with_a_reason(self, acme, activity, api):
        with acme.scope():
            endpoint(acme, "claim.rejected")
        claim = self.submitted_claim(acme, activity, api)
        url = f"{CLAIMS}{claim['id']}/reject/"
        finance = api(acme, Role.OPS_ADMIN)
        assert finance.post(url, {}).status_code == 422
        with acme.scope():
            assert events_of("claim.rejected") == []
        done = finance.post(url, {"reason": "The invoice is unreadable."})
        assert done.json()["status"] == "rejected"
        with acme.scope():
            sent = events_of("claim.rejected")
        assert len(sent) == 1 and sent[0].data["decision_reason"] == "The invoice is unreadable."

    def test_paid_when_the_payout_run_that_settled_it_is_paid(self, acme, activity, api):
        with acme.scope():
            endpoint(acme, "claim.paid")
        claim = self.submitted_claim(acme, activity, api)
        api(acme, Role.FINANCE).post(f"{CLAIMS}{claim['id']}/approve/", {})
        with acme.scope():
            run = payouts.start_run(
                acme.tenant, by=acme[Role.FINANCE], cutoff=acme.tenant.local_today()
            )
            run = payouts.write_payouts(
                payouts.approve(payouts.compute_run(run), by=acme.second(Role.FINANCE))
            )
            assert events_of("claim.paid") == []
            payouts.mark_paid(run, by=acme[Role.FINANCE], reference="BACS-7")
            sent = events_of("claim.paid")
        today = acme.tenant.local_today().isoformat()
        assert len(sent) == 1 and sent[0].data["id"] == claim["id"]
        assert sent[0].data["paid_on"] == today
        shown = api(acme, Role.PARTNER_USER).get(f"{CLAIMS}{claim['id']}/").json()
        assert shown["paid_on"] == today
        funds = api(acme, Role.PARTNER_USER).get("/api/v1/mdf-allocations/").json()["results"]
        assert funds[0]["claimed"] == "1800.00" and funds[0]["paid"] == "1800.00"

    def test_withdrawn_by_the_partner_and_answered_when_asked(self, acme, activity, api):
        claim = self.submitted_claim(acme, activity, api)
        client = api(acme, Role.PARTNER_USER)
        url = f"{CLAIMS}{claim['id']}/"
        with acme.scope():
            claims.request_claim_info(
                Claim.objects.get(pk=claim["id"]), by=acme[Role.FINANCE], message="Which venue?"
            )
        assert client.post(f"{url}submit/").status_code == 409
        answered = client.post(f"{url}answer/", {"message": "Online."})
        assert answered.json()["status"] == "submitted"
        withdrawn = client.post(f"{url}withdraw/")
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
        assert client.post(f"{url}withdraw/").status_code == 409


def test_a_large_upload_with_an_idempotency_key_is_replayed(acme, activity, api):
    """Proofs may be larger than Django keeps in memory: the key's
    fingerprint hashes the parsed files, and the retry replays the claim."""
    client = api(acme, Role.PARTNER_USER)
    data = fields(activity, submit="true")

    def big():
        return SimpleUploadedFile("invoice.pdf", mdf.PDF + b" " * 3_000_000, "application/pdf")

    made = multipart(client, CLAIMS, data, {"proof_invoice": big()}, **{"Idempotency-Key": "big"})
    assert made.status_code == 201, made.content[:300]
    again = multipart(client, CLAIMS, data, {"proof_invoice": big()}, **{"Idempotency-Key": "big"})
    assert again["Idempotent-Replayed"] == "true" and again.json() == made.json()
    with acme.scope():
        assert Claim.objects.count() == 1
