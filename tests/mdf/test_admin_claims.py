"""The claim queue and review in the tenant admin: the list (duplicate
flags linking to the other claims, the channel manager's check, filters,
constant queries), the review page (planned and actual lines, proof
inline or as links, the duplicate warning), decisions through the claims
services, bulk decisions, roles and tenants."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from incentives.models import LedgerEntry
from mdf import admin_claims, funds, requests
from mdf.models import Claim, FundRequest
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal
Status = Claim.Status
CHANGELIST = reverse("tenant_admin:mdf_claim_changelist")


def change_url(obj):
    return reverse("tenant_admin:mdf_claim_change", args=[obj.pk])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def fresh(world, obj):
    with world.scope():
        return Claim.objects.get(pk=obj.pk)


def act(client, obj, action, confirm=True, **fields):
    data = {"_action": action, **{f"{action}-{k}": v for k, v in fields.items()}}
    if confirm:
        data["confirm"] = "yes"
    return client.post(change_url(obj), data)


def bulk(client, action, objs, **extra):
    data = {"action": action, "_selected_action": [str(o.pk) for o in objs], **extra}
    if "confirm" not in extra:
        data["index"] = "0"
    return client.post(CHANGELIST, data)


def listed(response):
    return [r.code for r in response.context["cl"].result_list]


@pytest.fixture
def alloc(acme):
    with acme.scope():
        return b.allocation(acme, D("20000"))


def new_claim(world, alloc, **kw):
    with world.scope():
        req = b.approved(world, alloc)
        return b.submitted_claim(world, req, **kw)


@pytest.fixture
def other_claim(acme, alloc):
    """A claim of acme's second partner (not the channel manager's)."""
    from tests import factories

    with acme.scope():
        rival = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival@acme.test"
        )
        other = funds.allocate(alloc.budget, acme.other_partner, D("5000"), by=acme[Role.OPS_ADMIN])
        req = requests.save_request(b.request_data(other), by=rival, submit=True)
        req = requests.approve_request(req, by=acme[Role.OPS_ADMIN])
        from mdf import claims

        return claims.save_claim(
            req,
            b.claim_data(invoice_date=b.after(req).date()),
            by=rival,
            submit=True,
            now=b.after(req),
        )


# --- The list ------------------------------------------------------------------------------


def test_duplicates_are_flagged_and_link_to_the_other_claim(acme, alloc):
    first = new_claim(acme, alloc, supplier="Webinar Co", number="INV-1")
    second = new_claim(acme, alloc, supplier="Webinar Co.", number="inv 1")
    plain = new_claim(acme, alloc, supplier="Print Shop")
    client = acme.client("finance")
    response = client.get(CHANGELIST)
    page = response.content.decode()
    assert f"?q={first.code}" in page and "⚠" in page
    # Each names the other.
    assert set(listed(client.get(CHANGELIST + "?duplicate=yes"))) == {first.code, second.code}
    assert plain.code in listed(client.get(CHANGELIST + "?duplicate=no"))
    review = client.get(change_url(second))
    assert 'data-testid="duplicate-warning"' in review.content.decode()
    assert [d.code for d in review.context["duplicates"]] == [first.code]


def test_assigned_to_me_finance_all_pending_cm_their_partners(acme, alloc, other_claim):
    mine = new_claim(acme, alloc)
    finance = listed(acme.client("finance").get(CHANGELIST + "?assigned=me"))
    assert set(finance) == {mine.code, other_claim.code}
    cm = listed(acme.client("channel_manager").get(CHANGELIST + "?assigned=me"))
    assert cm == [mine.code]


def test_the_claim_list_is_constant_in_queries(acme, alloc, django_assert_max_num_queries):
    new_claim(acme, alloc)
    client = acme.client("finance")
    client.get(CHANGELIST)
    with django_assert_max_num_queries(20) as few:
        client.get(CHANGELIST)
    for _ in range(4):
        new_claim(acme, alloc)
    with acme.scope():
        claim = Claim.objects.first()
        Claim.objects.filter(pk=claim.pk).update(duplicate_of=["FC-AAAA1111"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(CHANGELIST)
    assert response.context["cl"].result_count == 5


def test_other_tenants_claims_are_404(acme, globex):
    with globex.scope():
        foreign_alloc = b.allocation(globex)
    foreign = new_claim(globex, foreign_alloc)
    client = acme.client("finance")
    assert client.get(change_url(foreign)).status_code == 404
    assert act(client, foreign, "approve").status_code == 404
    assert client.get(CHANGELIST).context["cl"].result_count == 0


# --- The review -----------------------------------------------------------------------------


def test_the_review_shows_the_request_the_lines_and_the_proof(acme, alloc):
    claim = new_claim(acme, alloc)
    client = acme.client("finance")
    response = client.get(change_url(claim))
    page = response.content.decode()
    assert 'data-testid="approved-amount"' in page and "50 %" in page
    assert len(response.context["planned_lines"]) == 1
    assert len(response.context["actual_lines"]) == 1
    with acme.scope():
        proof = claim.proofs.get()
    inline = reverse("mdf:proof", args=[claim.code, proof.pk]) + "?inline=1"
    assert f'<iframe src="{inline}"' in page  # the PDF, inline
    assert "download>invoice.pdf</a>" in page
    shown = client.get(inline)
    assert shown.status_code == 200
    assert shown["Content-Disposition"].startswith("inline")
    assert "frame-ancestors 'self'" in shown["Content-Security-Policy"]


def test_without_the_proof_view_the_review_names_the_files(acme, alloc, monkeypatch):
    claim = new_claim(acme, alloc)
    monkeypatch.setattr(admin_claims, "proof_url", lambda claim, proof, inline=False: "")
    page = acme.client("finance").get(change_url(claim)).content.decode()
    assert "proof view is not installed" in page and "<iframe" not in page


def test_finance_approves_in_full_and_the_reimbursement_is_owed(acme, alloc):
    claim = new_claim(acme, alloc)
    response = act(acme.client("finance"), claim, "approve", approved_cost="", reason="")
    assert response.status_code == 302
    done = fresh(acme, claim)
    assert (done.status, done.reimbursement_amount) == (Status.APPROVED, D("2000"))
    with acme.scope():
        assert LedgerEntry.objects.filter(kind="reimbursement", amount=D("2000")).exists()
    page = acme.client("finance").get(change_url(claim)).content.decode()
    assert 'data-testid="reimbursement"' in page and "next payout run" in page


def test_a_lower_cost_needs_a_reason(acme, alloc):
    claim = new_claim(acme, alloc)
    client = acme.client("finance")
    response = act(client, claim, "approve", approved_cost="3000", reason="")
    assert response.status_code == 200
    assert "Say why" in str(response.context["forms"]["approve"].errors["reason"])
    response = act(client, claim, "approve", approved_cost="5000", reason="x")
    assert "cannot exceed" in str(response.context["forms"]["approve"].errors["approved_cost"])
    response = act(client, claim, "approve", approved_cost="3000", reason="Catering not eligible")
    assert response.status_code == 302
    assert fresh(acme, claim).reimbursement_amount == D("1500")


def test_reject_and_request_information(acme, alloc):
    claim = new_claim(acme, alloc)
    client = acme.client("finance")
    assert act(client, claim, "request_info", message="Send the attendee list").status_code == 302
    assert fresh(acme, claim).status == Status.MORE_INFO
    asked = act(client, claim, "reject", confirm=False, reason="No proof")
    assert "Reject claim" in asked.content.decode()
    assert act(client, claim, "reject", reason="No proof").status_code == 302
    assert fresh(acme, claim).status == Status.REJECTED
    with acme.scope():
        assert FundRequest.objects.get(pk=claim.request_id).status == "approved"


def test_the_channel_manager_checks_the_proof_but_does_not_decide(acme, alloc, other_claim):
    claim = new_claim(acme, alloc)
    cm = acme.client("channel_manager")
    forms = cm.get(change_url(claim)).context["forms"]
    assert set(forms) == {"verify", "request_info", "message"}
    assert act(cm, claim, "verify", note="Saw the webinar").status_code == 302
    assert fresh(acme, claim).verified_at is not None
    assert "✓ checked" in acme.client("finance").get(CHANGELIST).content.decode()
    assert act(cm, claim, "approve").status_code == 403
    # Another partner's claim: read-only.
    response = cm.get(change_url(other_claim))
    assert response.status_code == 200 and response.context["forms"] == {}
    assert act(cm, other_claim, "verify", note="").status_code == 403


def test_executives_read_claims_only(acme, alloc):
    claim = new_claim(acme, alloc)
    client = acme.client("executive")
    response = client.get(change_url(claim))
    assert response.status_code == 200 and response.context["forms"] == {}
    assert act(client, claim, "approve").status_code == 403
    assert "approve_selected" not in client.get(CHANGELIST).content.decode()


# --- Bulk ------------------------------------------------------------------------------------


def test_bulk_approve_and_reject_claims(acme, alloc):
    first, second = new_claim(acme, alloc), new_claim(acme, alloc)
    client = acme.client("finance")
    page = bulk(client, "approve_selected", [first, second])
    assert page.context["decidable_count"] == 2
    response = bulk(client, "approve_selected", [first], confirm="1", reason="")
    assert response.status_code == 302 and fresh(acme, first).status == Status.APPROVED
    response = bulk(client, "reject_selected", [first, second], confirm="1", reason="Duplicate")
    said = " ".join(messages_of(response))
    assert fresh(acme, second).status == Status.REJECTED
    assert f"{first.code}:" in said and f"Rejected 1: {second.code}" in said
