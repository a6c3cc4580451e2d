"""The portal's request and claim forms: field-level errors from the
services, drafts, submits, a double POST with the same token saving once,
the figures computed without JavaScript, and a claim with a PDF."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from mdf import requests
from mdf.models import Claim, FundRequest, ProofFile
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal
NEW = "/funds/requests/new/"
Status = FundRequest.Status


# A day well inside the fiscal year the builders' budgets cover.
TODAY = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def alloc(acme, time_machine):
    time_machine.move_to(TODAY)
    with acme.scope():
        return b.allocation(acme, D("10000"))


def form_data(alloc, **overrides) -> dict:
    start = alloc.tenant.local_today() + dt.timedelta(days=30)
    data = {
        "client_token": str(uuid.uuid4()),
        "allocation": str(alloc.pk),
        "activity_type": "webinar",
        "title": "Spring webinar",
        "starts_on": start.isoformat(),
        "ends_on": start.isoformat(),
        "description": "A webinar for 200 IT managers.",
        "audience": "IT managers",
        "expected_reach": "200",
        "requested_amount": "2000",
        "expected_leads": "40",
        "expected_pipeline": "150000",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "50",
        "lines-0-description": "Platform",
        "lines-0-amount": "2500",
        "lines-1-description": "Promotion",
        "lines-1-amount": "1500",
        "lines-2-description": "",
        "lines-2-amount": "",
        "action": "submit",
    }
    data.update(overrides)
    return data


def all_requests(world):
    with world.scope():
        return list(FundRequest.objects.order_by("created_at"))


def test_the_form_offers_the_partners_open_allocations_and_empty_rows(acme, globex, alloc):
    with acme.scope():
        spent = b.allocation(acme, D("10"), fund=b.fund_type(acme, name="Spent"))
        type(spent).objects.filter(pk=spent.pk).update(expired=D("10"))
        others = b.allocation(
            acme,
            D("500"),
            partner=acme.other_partner,
            fund=alloc.budget.fund_type,
            bud=alloc.budget,
        )
    response = acme.client(Role.PARTNER_USER).get(NEW)
    assert response.status_code == 200
    form = response.context["form"]
    with acme.scope():
        offered = set(form.fields["allocation"].queryset)
    assert offered == {alloc}
    assert spent not in offered and others not in offered
    page = response.content.decode()
    assert page.count('name="lines-') >= 3 * 2  # three empty rows without JavaScript
    assert 'type="hidden" name="client_token"' in page
    assert 'value="submit"' in page and 'value="draft"' in page
    assert page.count("<script") == 1  # the shared, deferred enhancement only


def test_submit_creates_a_submitted_request(acme, alloc):
    response = acme.client(Role.PARTNER_ADMIN).post(NEW, form_data(alloc))
    [req] = all_requests(acme)
    assert response.status_code == 302 and response["Location"] == f"/funds/requests/{req.code}/"
    assert req.status == Status.SUBMITTED
    assert req.total_cost == D("4000") and req.requested_amount == D("2000")
    with acme.scope():
        assert sorted((c.description, c.amount) for c in req.cost_lines.all()) == [
            ("Platform", D("2500")),
            ("Promotion", D("1500")),
        ]


def test_a_draft_saves_without_the_lead_time_and_is_edited_then_submitted(acme, alloc):
    client = acme.client(Role.PARTNER_USER)
    soon = alloc.tenant.local_today() + dt.timedelta(days=2)
    response = client.post(
        NEW, form_data(alloc, action="draft", starts_on=soon.isoformat(), ends_on=soon.isoformat())
    )
    [req] = all_requests(acme)
    assert response.status_code == 302 and req.status == Status.DRAFT
    edit = f"/funds/requests/{req.code}/edit/"
    page = client.get(edit)
    assert page.status_code == 200 and page.context["form"]["title"].value() == "Spring webinar"
    # Submitting it now is refused on the start date: the lead time.
    data = form_data(alloc, starts_on=soon.isoformat(), ends_on=soon.isoformat())
    del data["client_token"]
    response = client.post(edit, data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "starts_on" in errors and "at least 14 days" in errors["starts_on"][0]
    later = alloc.tenant.local_today() + dt.timedelta(days=20)
    response = client.post(
        edit, {**data, "starts_on": later.isoformat(), "ends_on": later.isoformat()}
    )
    assert response.status_code == 302, (
        response.context["form"].errors,
        response.context["line_errors"],
    )
    [req] = all_requests(acme)
    assert req.status == Status.SUBMITTED and req.starts_on == later


def test_an_amount_above_the_funds_share_is_refused_on_its_field(acme, alloc):
    response = acme.client(Role.PARTNER_USER).post(NEW, form_data(alloc, requested_amount="2500"))
    assert response.status_code == 400
    [error] = response.context["form"].errors["requested_amount"]
    assert "50 %" in error and "2,000.00" in error
    page = response.content.decode()
    assert error.replace("“", "&ldquo;")[:20] in page or "50 %" in page
    # The figures are computed on the server: contribution 4 000 - 2 500.
    figures = response.context["figures"]
    assert figures["limit"] == D("2000.00") and figures["contribution"] == D("1500")
    assert figures["over"]
    assert all_requests(acme) == []


def test_field_errors_of_the_form_itself(acme, alloc):
    data = form_data(alloc, title="", **{"lines-0-amount": "", "lines-1-description": ""})
    response = acme.client(Role.PARTNER_USER).post(NEW, data)
    assert response.status_code == 400
    assert "title" in response.context["form"].errors
    lines = response.context["lines"]
    assert "amount" in lines.forms[0].errors and "description" in lines.forms[1].errors
    assert all_requests(acme) == []


def test_no_cost_lines_is_said_above_the_lines(acme, alloc):
    data = form_data(alloc)
    for i in (0, 1):
        data[f"lines-{i}-description"] = data[f"lines-{i}-amount"] = ""
    response = acme.client(Role.PARTNER_USER).post(NEW, data)
    assert response.status_code == 400
    assert response.context["line_errors"] == ["Add at least one cost line."]
    assert 'data-testid="line-errors"' in response.content.decode()


def test_update_the_figures_saves_nothing(acme, alloc):
    response = acme.client(Role.PARTNER_USER).post(NEW, form_data(alloc, action="recalc"))
    assert response.status_code == 200
    assert response.context["figures"]["total"] == D("4000")
    assert response.context["figures"]["contribution"] == D("2000")
    assert all_requests(acme) == []


def test_a_double_post_with_the_same_token_saves_once(acme, alloc):
    client = acme.client(Role.PARTNER_USER)
    data = form_data(alloc)
    first = client.post(NEW, data)
    second = client.post(NEW, data)
    [req] = all_requests(acme)
    assert first["Location"] == second["Location"] == f"/funds/requests/{req.code}/"


def test_another_partners_allocation_is_not_a_choice(acme, alloc):
    with acme.scope():
        theirs = b.allocation(
            acme,
            D("500"),
            partner=acme.other_partner,
            fund=alloc.budget.fund_type,
            bud=alloc.budget,
        )
    response = acme.client(Role.PARTNER_USER).post(NEW, form_data(theirs))
    assert response.status_code == 400 and "allocation" in response.context["form"].errors
    assert all_requests(acme) == []


def test_an_activity_type_the_fund_does_not_pay_for(acme):
    with acme.scope():
        fund = b.fund_type(acme, name="Events only", activity_types=["event"])
        alloc = b.allocation(acme, D("5000"), fund=fund)
    response = acme.client(Role.PARTNER_USER).post(NEW, form_data(alloc))
    assert response.status_code == 400
    assert "Events only pays for: Event" in response.context["form"].errors["activity_type"][0]


def test_a_request_sent_back_is_changed_and_answered(acme, alloc):
    with acme.scope():
        req = b.submitted(acme, alloc)
        requests.request_info(req, by=acme[Role.CHANNEL_MANAGER], message="Which venue?")
    client = acme.client(Role.PARTNER_USER)
    edit = f"/funds/requests/{req.code}/edit/"
    page = client.get(edit).content.decode()
    assert "Which venue?" in page and "Send answer" in page
    data = form_data(alloc, title="Renamed webinar")
    del data["client_token"]
    refused = client.post(edit, data)
    assert refused.status_code == 400 and "answer" in refused.context["answer_form"].errors
    response = client.post(edit, {**data, "answer": "The Hilton, renamed."})
    assert response.status_code == 302
    with acme.scope():
        req.refresh_from_db()
        assert req.status == Status.SUBMITTED and req.title == "Renamed webinar"
        assert req.events.filter(kind="info_provided", message="The Hilton, renamed.").exists()


def test_a_submitted_request_is_not_edited(acme, alloc):
    with acme.scope():
        req = b.submitted(acme, alloc)
    response = acme.client(Role.PARTNER_USER).get(f"/funds/requests/{req.code}/edit/")
    assert response.status_code == 302 and response["Location"] == f"/funds/requests/{req.code}/"


def test_a_draft_is_submitted_from_its_page(acme, alloc):
    with acme.scope():
        req = requests.save_request(b.request_data(alloc), by=acme[Role.PARTNER_USER])
    response = acme.client(Role.PARTNER_USER).post(f"/funds/requests/{req.code}/submit/")
    assert response.status_code == 302
    with acme.scope():
        req.refresh_from_db()
    assert req.status == Status.SUBMITTED


# --- Claims -----------------------------------------------------------------------------


def claim_data(**overrides) -> dict:
    data = {
        "client_token": str(uuid.uuid4()),
        "supplier": "Webinar Co",
        "invoice_number": "INV-100",
        "invoice_date": "2027-03-01",
        "claimed_amount": "1500",
        "leads": "35",
        "attendees": "180",
        "opportunities": "6",
        "results": "180 attended.",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "50",
        "lines-0-description": "Platform",
        "lines-0-amount": "3000",
        "lines-1-description": "",
        "lines-1-amount": "",
        "lines-2-description": "",
        "lines-2-amount": "",
        "action": "submit",
    }
    data.update(overrides)
    return data


@pytest.fixture
def approved(acme, alloc):
    with acme.scope():
        return b.approved(acme, alloc, amount=D("2000"))


def test_a_claim_with_a_pdf_is_submitted_through_the_form(acme, approved, time_machine):
    time_machine.move_to(b.after(approved, 1))
    client = acme.client(Role.PARTNER_USER)
    url = f"/funds/requests/{approved.code}/claim/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'enctype="multipart/form-data"' in html and "multiple" in html
    assert "requires: <strong>invoice</strong>" in html
    # the request's planned costs are the starting point
    assert page.context["lines"].forms[0]["description"].value() == "Platform and promotion"
    response = client.post(url, {**claim_data(), "proof_invoice": [b.pdf(), b.pdf("b.pdf")]})
    assert response.status_code == 302, response.context and response.context["form"].errors
    with acme.scope():
        [claim] = Claim.objects.all()
        assert response["Location"] == f"/funds/claims/{claim.code}/"
        assert claim.status == Claim.Status.SUBMITTED and claim.claimed_amount == D("1500")
        assert sorted(ProofFile.objects.values_list("original_name", flat=True)) == [
            "b.pdf",
            "invoice.pdf",
        ]
    page = client.get(f"/funds/claims/{claim.code}/").content.decode()
    assert "invoice.pdf" in page and "b.pdf" in page


def test_a_claim_without_the_required_proof_is_refused_above_the_files(
    acme, approved, time_machine
):
    time_machine.move_to(b.after(approved, 1))
    url = f"/funds/requests/{approved.code}/claim/"
    response = acme.client(Role.PARTNER_USER).post(url, claim_data())
    assert response.status_code == 400
    [error] = response.context["proof_errors"]
    assert "invoice" in error
    with acme.scope():
        assert not Claim.objects.exists()


def test_a_claim_above_the_maximum_is_refused_on_its_field(acme, approved, time_machine):
    time_machine.move_to(b.after(approved, 1))
    url = f"/funds/requests/{approved.code}/claim/"
    data = {**claim_data(claimed_amount="1600"), "proof_invoice": b.pdf()}
    response = acme.client(Role.PARTNER_USER).post(url, data)
    assert response.status_code == 400
    [error] = response.context["form"].errors["claimed_amount"]
    assert "1,500.00" in error


def test_a_claim_draft_then_double_submit_saves_once(acme, approved, time_machine):
    time_machine.move_to(b.after(approved, 1))
    client = acme.client(Role.PARTNER_USER)
    url = f"/funds/requests/{approved.code}/claim/"
    data = claim_data()
    first = client.post(url, {**data, "proof_invoice": b.pdf()})
    second = client.post(url, {**data, "proof_invoice": b.pdf()})
    assert first.status_code == 302
    with acme.scope():
        [claim] = Claim.objects.all()
        assert claim.proofs.count() == 1
    assert second.status_code == 302


def test_a_claim_before_the_activity_ended_goes_nowhere(acme, approved):
    response = acme.client(Role.PARTNER_USER).post(
        f"/funds/requests/{approved.code}/claim/", {**claim_data(), "proof_invoice": b.pdf()}
    )
    assert response.status_code == 400
    assert "once it has taken place" in str(response.context["form"].non_field_errors())


def test_a_draft_claim_is_continued_and_submitted(acme, approved, time_machine):
    time_machine.move_to(b.after(approved, 1))
    client = acme.client(Role.PARTNER_USER)
    url = f"/funds/requests/{approved.code}/claim/"
    assert client.post(url, claim_data(action="draft")).status_code == 302
    with acme.scope():
        [claim] = Claim.objects.all()
    assert claim.status == Claim.Status.DRAFT
    # "Claim" again opens the draft
    assert client.get(url)["Location"] == f"/funds/claims/{claim.code}/edit/"
    data = claim_data()
    del data["client_token"]
    response = client.post(f"/funds/claims/{claim.code}/edit/", {**data, "proof_invoice": b.pdf()})
    assert response.status_code == 302, (
        response.context["form"].errors,
        response.context["proof_errors"],
        response.context["line_errors"],
    )
    with acme.scope():
        claim.refresh_from_db()
    assert claim.status == Claim.Status.SUBMITTED
