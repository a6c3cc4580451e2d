"""Deal registrations through the API: a partner registers, changes and
submits drafts, answers information requests and records outcomes; staff
read and decide. The same services and rules as the portal and the admin."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from dealreg.models import CustomField, DealRegistration
from prm.tenancy.roles import Role
from tests.program import builders_compliance as compliance

from .conftest import ApiClient, make_key
from .dealreg_support import REGISTRATIONS, body, make_lines, rival_member, submitted, url

pytestmark = pytest.mark.django_db
Status = DealRegistration.Status


@pytest.fixture
def lines(acme):
    return make_lines(acme)


def count(world, **filters) -> int:
    with world.scope():
        return DealRegistration.objects.filter(**filters).count()


def test_a_partner_registers_a_deal_and_reads_it_without_the_vendors_internals(acme, api, lines):
    client = api(acme, Role.PARTNER_USER)
    created = client.post(REGISTRATIONS, body(lines))
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["status"] == "submitted"
    assert data["code"].startswith("DR-")
    assert data["estimated_value"] == "25000.00" and data["currency"] == "USD"
    assert data["product_lines"] == [{"id": str(lines["fw"].pk), "code": "fw", "name": "Firewall"}]
    assert data["partner"] == {"id": str(acme.partner.pk), "name": acme.partner.name}
    assert data["decision_due_at"] is not None
    assert created["Location"] == url(DealRegistration(pk=data["id"]))
    for staff_only in ("approver", "decided_by", "conflict_state", "sla_met"):
        assert staff_only not in data
    read = client.get(created["Location"])
    assert read.status_code == 200 and read.json() == data
    staff = api(acme, Role.OPS_ADMIN).get(created["Location"]).json()
    assert staff["approver"]["email"] == acme[Role.CHANNEL_MANAGER].user.email
    assert staff["conflict_state"] == "not_checked"


def test_bad_input_is_422_on_each_field_and_saves_nothing(acme, api, lines):
    client = api(acme, Role.PARTNER_USER)
    with acme.scope():
        CustomField.objects.create(
            tenant=acme.tenant, key="budget", label="Budget confirmed", field_type="checkbox"
        )
    bad = client.post(
        REGISTRATIONS,
        body(
            lines,
            customer_name="",
            customer_country="XX",
            estimated_value="-1",
            currency="dollars",
            product_lines=["0190a1b2-0000-7000-8000-000000000000"],
            custom_data={"nonsense": "1"},
        ),
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {
        "customer_name",
        "customer_country",
        "estimated_value",
        "currency",
        "product_lines",
        "custom_data.nonsense",
    } <= fields
    # The service's own rules: a registration needs a product line.
    refused = client.post(REGISTRATIONS, body(lines, product_lines=[]))
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "product_lines", "message": "Choose at least one product line."}
    ]
    past = client.post(REGISTRATIONS, body(lines, expected_close_date="2020-01-01"))
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "expected_close_date"
    assert count(acme) == 0


def test_required_questions_of_the_program_are_asked_as_the_form_asks_them(acme, api, lines):
    with acme.scope():
        CustomField.objects.create(
            tenant=acme.tenant, key="seats", label="Seats", field_type="number", required=True
        )
    client = api(acme, Role.PARTNER_USER)
    missing = client.post(REGISTRATIONS, body(lines))
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "custom_data.seats"
    wrong = client.post(REGISTRATIONS, body(lines, custom_data={"seats": "many"}))
    assert wrong.json()["errors"][0]["field"] == "custom_data.seats"
    done = client.post(REGISTRATIONS, body(lines, custom_data={"seats": 250}))
    assert done.status_code == 201, done.content
    assert done.json()["custom_data"] == {"seats": "250"}


def test_a_partner_on_hold_is_refused_with_403_and_nothing_is_saved(acme, api, lines):
    with acme.scope():
        compliance.overdue(acme)
        compliance.policy(acme, blocks_registrations=True)
    client = api(acme, Role.PARTNER_USER)
    for submit in (True, False):
        refused = client.post(REGISTRATIONS, body(lines, submit=submit))
        assert refused.status_code == 403
        assert refused.json()["code"] == "registrations_on_hold"
        assert "compliance review" in refused.json()["detail"]
    assert count(acme) == 0


def test_a_draft_submitted_while_on_hold_is_refused_too(acme, api, lines):
    client = api(acme, Role.PARTNER_USER)
    draft = client.post(REGISTRATIONS, body(lines, submit=False)).json()
    with acme.scope():
        compliance.overdue(acme)
        compliance.policy(acme, blocks_registrations=True)
    refused = client.post(f"{REGISTRATIONS}{draft['id']}/submit/")
    assert refused.status_code == 403
    assert count(acme, status=Status.DRAFT) == 1


def test_the_same_customer_again_needs_the_duplicate_acknowledged(acme, api, lines):
    client = api(acme, Role.PARTNER_USER)
    first = client.post(REGISTRATIONS, body(lines)).json()
    again = client.post(REGISTRATIONS, body(lines, customer_name="Initech Corp."))
    assert again.status_code == 409
    assert again.json()["code"] == "possible_duplicate"
    assert first["code"] in again.json()["detail"]
    assert count(acme) == 1
    named = client.post(
        REGISTRATIONS,
        body(lines, customer_name="Initech Corp.", duplicates_acknowledged=[first["code"]]),
    )
    assert named.status_code == 201
    # A draft is saved without asking (the portal warns, and asks on submit).
    assert client.post(REGISTRATIONS, body(lines, submit=False)).status_code == 201


def test_a_retried_create_with_its_idempotency_key_registers_once(acme, api, lines):
    client = api(acme, Role.PARTNER_ADMIN)
    first = client.post(REGISTRATIONS, body(lines), **{"Idempotency-Key": "reg-1"})
    again = client.post(REGISTRATIONS, body(lines), **{"Idempotency-Key": "reg-1"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert count(acme) == 1


def test_a_draft_is_changed_submitted_or_deleted_and_staff_never_see_it(acme, api, lines):
    client = api(acme, Role.PARTNER_USER)
    draft = client.post(REGISTRATIONS, body(lines, submit=False)).json()
    assert draft["status"] == "draft" and draft["decision_due_at"] is None
    ops = api(acme, Role.OPS_ADMIN)
    assert ops.get(f"{REGISTRATIONS}{draft['id']}/").status_code == 404
    assert ops.get(REGISTRATIONS).json()["results"] == []
    changed = client.patch(
        f"{REGISTRATIONS}{draft['id']}/",
        {"estimated_value": "31000.50", "product_lines": [str(lines["sdwan"].pk)]},
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["estimated_value"] == "31000.50"
    assert changed.json()["customer_name"] == "Initech Corporation"  # left as it was
    assert [p["code"] for p in changed.json()["product_lines"]] == ["sdwan"]
    bad = client.patch(f"{REGISTRATIONS}{draft['id']}/", {"expected_close_date": "soon"})
    assert bad.status_code == 422
    sent = client.post(f"{REGISTRATIONS}{draft['id']}/submit/")
    assert sent.status_code == 200 and sent.json()["status"] == "submitted"
    assert client.post(f"{REGISTRATIONS}{draft['id']}/submit/").status_code == 409
    assert client.patch(f"{REGISTRATIONS}{draft['id']}/", {"description": "x"}).status_code == 409
    assert client.delete(f"{REGISTRATIONS}{draft['id']}/").status_code == 409
    assert ops.get(f"{REGISTRATIONS}{draft['id']}/").status_code == 200
    other = client.post(REGISTRATIONS, body(lines, customer_name="Hooli", submit=False)).json()
    deleted = client.delete(f"{REGISTRATIONS}{other['id']}/")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": other["id"], "code": other["code"], "deleted": True}
    assert client.get(f"{REGISTRATIONS}{other['id']}/").status_code == 404


def test_another_partners_registration_is_404_and_staff_roles_cannot_register(acme, api, lines):
    theirs = submitted(acme, lines, member=rival_member(acme), customer_name="Globo Gym")
    mine = submitted(acme, lines)
    client = api(acme, Role.PARTNER_USER)
    assert client.get(url(theirs)).status_code == 404
    assert client.post(url(theirs, "withdraw")).status_code == 404
    assert [r["id"] for r in client.get(REGISTRATIONS).json()["results"]] == [str(mine.pk)]
    for role in (Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE):
        assert api(acme, role).post(REGISTRATIONS, body(lines)).status_code == 403
    assert count(acme) == 2


def test_a_read_only_key_cannot_register(acme, api, lines):
    client = api(acme, Role.PARTNER_ADMIN, ["registrations:read"])
    assert client.get(REGISTRATIONS).status_code == 200
    refused = client.post(REGISTRATIONS, body(lines))
    assert refused.status_code == 403 and "registrations:write" in refused.json()["detail"]


def test_staff_list_filters_orders_and_stays_constant_in_queries(
    acme, api, lines, django_assert_max_num_queries
):
    rival = rival_member(acme)
    for n in range(3):
        submitted(acme, lines, customer_name=f"Initech {n}", customer_domain=f"i{n}.example")
        submitted(acme, lines, member=rival, customer_name=f"Globo {n}", customer_domain="")
    client = api(acme, Role.EXECUTIVE)
    client.get(REGISTRATIONS)  # the key's first use is written once
    with django_assert_max_num_queries(12) as few:
        page = client.get(REGISTRATIONS, {"limit": 2})
    assert page.status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        everything = client.get(REGISTRATIONS).json()["results"]
    assert len(everything) == 6
    ours = client.get(REGISTRATIONS, {"partner": str(acme.partner.pk)}).json()["results"]
    assert {r["partner"]["id"] for r in ours} == {str(acme.partner.pk)} and len(ours) == 3
    found = client.get(REGISTRATIONS, {"customer": "i1.exa"}).json()["results"]
    assert [r["customer_name"] for r in found] == ["Initech 1"]
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert client.get(REGISTRATIONS, {"submitted_since": later}).json()["results"] == []
    by_status = client.get(REGISTRATIONS, {"status": ["submitted", "approved"]}).json()
    assert len(by_status["results"]) == 6
    ordered = client.get(REGISTRATIONS, {"ordering": "customer_name"}).json()["results"]
    assert ordered[0]["customer_name"] == "Globo 0"
    bad = client.get(REGISTRATIONS, {"status": "pending", "submitted_since": "yesterday"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"status", "submitted_since"}


def test_the_channel_manager_decides_and_the_partner_answers(acme, api, lines):
    registration = submitted(acme, lines)
    cm = api(acme, Role.CHANNEL_MANAGER)
    partner = api(acme, Role.PARTNER_USER)
    assert cm.post(url(registration, "reject"), {}).json()["errors"][0]["field"] == "reason"
    asked = cm.post(url(registration, "request-information"), {"message": "Which offices?"})
    assert asked.status_code == 200, asked.content
    assert asked.json()["status"] == "more_info_requested"
    seen = partner.get(url(registration)).json()
    assert seen["information_request"]["message"] == "Which offices?"
    assert partner.post(url(registration, "answer"), {}).json()["errors"][0]["field"] == "message"
    bad = partner.post(
        url(registration, "answer"), {"message": "All", "details": {"estimated_value": "x"}}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "details.estimated_value"
    answered = partner.post(
        url(registration, "answer"),
        {"message": "All three.", "details": {"estimated_value": "31000.00"}},
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == "submitted"
    assert answered.json()["estimated_value"] == "31000.00"
    assert answered.json()["product_lines"][0]["code"] == "fw"  # left as it was
    assert partner.post(url(registration, "answer"), {"message": "Again"}).status_code == 409
    approved = cm.post(url(registration, "approve"), {"reason": "Go ahead."})
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["protected_until"] is not None
    assert approved.json()["decided_by"]["email"] == acme[Role.CHANNEL_MANAGER].user.email
    again = cm.post(url(registration, "approve"), {})
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def test_who_may_decide_is_the_services_rule(acme, api, lines):
    # Routed to the channel manager (its partner has none): theirs to decide.
    routed = submitted(acme, lines, member=rival_member(acme), customer_name="Globo Gym")
    assert api(acme, Role.CHANNEL_MANAGER).post(url(routed, "approve")).status_code == 200
    other = submitted(acme, lines, customer_name="Hooli")
    # A channel manager who neither manages the partner nor was routed it.
    acme.second(Role.CHANNEL_MANAGER)
    _, token = make_key(acme, f"second_{Role.CHANNEL_MANAGER}")
    stranger = ApiClient(acme.host, token)
    assert stranger.get(url(other)).status_code == 200  # they read every registration
    refused = stranger.post(url(other, "reject"), {"reason": "No"})
    assert refused.status_code == 403
    for role in (Role.FINANCE, Role.EXECUTIVE, Role.PARTNER_ADMIN):
        assert api(acme, role).post(url(other, "approve")).status_code == 403
    assert count(acme, status=Status.SUBMITTED) == 1


def test_outcomes_are_recorded_by_the_partner_with_the_fields_the_page_asks(acme, api, lines):
    registration = submitted(acme, lines)
    partner = api(acme, Role.PARTNER_USER)
    early = partner.post(url(registration, "outcome"), {"outcome": "lost", "reason": "Budget cut"})
    assert early.status_code == 409
    api(acme, Role.CHANNEL_MANAGER).post(url(registration, "approve"))
    missing = partner.post(url(registration, "outcome"), {"outcome": "won"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "amount"
    future = (date.today() + timedelta(days=3)).isoformat()
    late = partner.post(
        url(registration, "outcome"), {"outcome": "won", "amount": "100", "close_date": future}
    )
    assert late.json()["errors"][0]["field"] == "close_date"
    lost = partner.post(url(registration, "outcome"), {"outcome": "lost"})
    assert lost.json()["errors"][0]["field"] == "reason"
    won = partner.post(
        url(registration, "outcome"),
        {"outcome": "won", "amount": "23800.00", "close_date": date.today().isoformat()},
    )
    assert won.status_code == 200, won.content
    assert won.json()["status"] == "won"
    assert won.json()["won_amount"] == "23800.00" and won.json()["won_currency"] == "USD"
    assert partner.post(url(registration, "withdraw")).status_code == 409


def test_a_partner_withdraws(acme, api, lines):
    registration = submitted(acme, lines)
    done = api(acme, Role.PARTNER_ADMIN).post(url(registration, "withdraw"), {"reason": "Gone"})
    assert done.status_code == 200 and done.json()["status"] == "withdrawn"


def test_staff_read_the_conflicts_partners_never_do(
    acme, api, lines, django_capture_on_commit_callbacks
):
    first = submitted(acme, lines)
    with django_capture_on_commit_callbacks(execute=True):
        second = submitted(acme, lines, member=rival_member(acme), customer_name="Initech Corp")
    found = api(acme, Role.CHANNEL_MANAGER).get(url(second, "conflicts"))
    assert found.status_code == 200
    [conflict] = found.json()
    assert conflict["kind"] == "registration"
    assert conflict["registration"]["id"] == str(second.pk)
    assert conflict["other_registration"]["id"] == str(first.pk)
    assert "same domain" in conflict["reasons"]
    assert conflict["other_filed_first"] is True
    # From the other side, the same pair once.
    [mirror] = api(acme, Role.OPS_ADMIN).get(url(first, "conflicts")).json()
    assert mirror["id"] == conflict["id"]
    assert api(acme, Role.PARTNER_ADMIN).get(url(first, "conflicts")).status_code == 403
    partner_view = api(acme, Role.PARTNER_USER).get(url(first)).json()
    assert partner_view["in_conflict_review"] is True
    assert "conflict_state" not in partner_view


def test_etags_on_a_registration(acme, api, lines):
    registration = submitted(acme, lines)
    client = api(acme, Role.CHANNEL_MANAGER)
    tag = client.get(url(registration))["ETag"]
    assert client.get(url(registration), **{"If-None-Match": tag}).status_code == 304
    client.post(url(registration, "request-information"), {"message": "More?"})
    stale = client.post(url(registration, "approve"), {}, **{"If-Match": tag})
    assert stale.status_code == 412
    assert count(acme, status=Status.MORE_INFO) == 1


def test_product_lines_partners_see_only_those_offered(acme, api, lines):
    with acme.scope():
        lines["sdwan"].is_active = False
        lines["sdwan"].save()
    partner = api(acme, Role.PARTNER_USER).get("/api/v1/product-lines/").json()["results"]
    assert [p["code"] for p in partner] == ["fw"]
    staff = api(acme, Role.FINANCE).get("/api/v1/product-lines/", {"ordering": "code"}).json()
    assert [p["code"] for p in staff["results"]] == ["fw", "sdwan"]


def test_a_question_added_after_the_draft_is_asked_on_submit(acme, api, lines):
    client = api(acme, Role.PARTNER_USER)
    draft = client.post(REGISTRATIONS, body(lines, submit=False)).json()
    with acme.scope():
        CustomField.objects.create(
            tenant=acme.tenant, key="seats", label="Seats", field_type="number", required=True
        )
    refused = client.post(f"{REGISTRATIONS}{draft['id']}/submit/")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "custom_data.seats", "message": "Seats: this field is required."}
    ]
    client.patch(f"{REGISTRATIONS}{draft['id']}/", {"custom_data": {"seats": "40"}})
    sent = client.post(f"{REGISTRATIONS}{draft['id']}/submit/")
    assert sent.status_code == 200 and sent.json()["custom_data"] == {"seats": "40"}


def test_fields_other_apps_add_to_the_form_are_taken_by_their_names(acme, api, lines):
    from mdf.models import SourcedDeal
    from tests.mdf import roi_factories as mdf

    with acme.scope():
        budget = mdf.make_budget(acme, mdf.make_fund_type(acme))
        ours = mdf.make_request(acme, mdf.make_allocation(acme, budget), title="Spring event")
        other = mdf.make_allocation(acme, budget, partner=acme.other_partner)
        theirs = mdf.make_request(acme, other, title="Their event")
    client = api(acme, Role.PARTNER_USER)
    refused = client.post(REGISTRATIONS, body(lines, mdf_source=str(theirs.pk)))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "mdf_source"
    assert count(acme) == 0
    created = client.post(REGISTRATIONS, body(lines, mdf_source=str(ours.pk), submit=False))
    assert created.status_code == 201, created.content
    with acme.scope():
        assert SourcedDeal.objects.get(registration_id=created.json()["id"]).request == ours
    # A change that leaves the field out keeps it; null removes it.
    client.patch(f"{REGISTRATIONS}{created.json()['id']}/", {"description": "Bigger"})
    with acme.scope():
        assert SourcedDeal.objects.filter(registration_id=created.json()["id"]).exists()
    client.patch(f"{REGISTRATIONS}{created.json()['id']}/", {"mdf_source": None})
    with acme.scope():
        assert not SourcedDeal.objects.filter(registration_id=created.json()["id"]).exists()
