"""The fund request queue in the tenant admin: the list (deadline colours
and filters, oldest due first, constant queries), the request's page and
its decisions through the requests services, bulk decisions with per-row
results, and who may do what, in which tenant."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from mdf import requests
from mdf.admin_lists import DeadlineClock
from mdf.models import ActivityEvent, ClaimExtension, FundRequest
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal
Status = FundRequest.Status
CHANGELIST = reverse("tenant_admin:mdf_fundrequest_changelist")


def change_url(obj):
    return reverse("tenant_admin:mdf_fundrequest_change", args=[obj.pk])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def fresh(world, obj):
    with world.scope():
        return FundRequest.objects.get(pk=obj.pk)


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
        return b.allocation(acme, D("10000"))


@pytest.fixture
def other_alloc(acme, alloc):
    """An allocation of acme's second partner (whom the channel manager does
    not manage), with a partner user of its own."""
    from tests import factories

    with acme.scope():
        member = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival@acme.test"
        )
        acme.members["rival"] = member
        from mdf import funds

        return funds.allocate(alloc.budget, acme.other_partner, D("5000"), by=acme["ops_admin"])


def submit_other(acme, other_alloc):
    with acme.scope():
        return requests.save_request(b.request_data(other_alloc), by=acme["rival"], submit=True)


# --- The list ----------------------------------------------------------------------------


def set_due(world, obj, due):
    with world.scope():
        FundRequest.objects.filter(pk=obj.pk).update(due_at=due)


def test_the_queue_reads_oldest_due_first_with_deadline_colours(acme, alloc):
    now = timezone.now()
    with acme.scope():
        late, soon, later = (b.submitted(acme, alloc) for _ in range(3))
        asked = b.submitted(acme, alloc)
        requests.request_info(asked, by=acme["channel_manager"], message="Which venue?")
        draft = requests.save_request(b.request_data(alloc), by=acme["partner_user"])
    set_due(acme, late, now - timedelta(hours=2))
    set_due(acme, soon, now + timedelta(hours=3))
    set_due(acme, later, now + timedelta(days=3))
    # The paused request's own deadline depends on the weekday the test runs
    # (business days): put it after the others, so the order is the same
    # every day of the week.
    set_due(acme, asked, now + timedelta(days=30))
    response = acme.client("channel_manager").get(CHANGELIST)
    codes = listed(response)
    assert draft.code not in codes  # a draft is the partner's own
    assert codes[:3] == [late.code, soon.code, later.code]
    states = {r.code: r.deadline_state for r in response.context["cl"].result_list}
    assert states[late.code] == "breached" and states[soon.code] == "due_soon"
    assert states[later.code] == "on_track" and states[asked.code] == "paused"
    page = response.content.decode()
    assert "dr-sla-breached" in page and "dr-sla-due_soon" in page


def test_deadline_filters(acme, alloc):
    now = timezone.now()
    clock = DeadlineClock.at(acme.tenant, now)
    with acme.scope():
        late, today, week, far = (b.submitted(acme, alloc) for _ in range(4))
    set_due(acme, late, now - timedelta(minutes=5))
    set_due(acme, today, now + (clock.today_ends - now) / 2)
    # Later this week (on a Sunday the week ends with the day: still today).
    set_due(acme, week, clock.week_ends - timedelta(seconds=30))
    set_due(acme, far, clock.week_ends + timedelta(days=1))
    client = acme.client("ops_admin")
    assert listed(client.get(CHANGELIST + "?deadline=overdue")) == [late.code]
    due_today = set(listed(client.get(CHANGELIST + "?deadline=today")))
    assert today.code in due_today and far.code not in due_today
    assert (week.code in due_today) == (clock.week_ends == clock.today_ends)
    assert set(listed(client.get(CHANGELIST + "?deadline=week"))) == {today.code, week.code}


def test_assigned_to_me_is_mine_or_my_partners(acme, alloc, other_alloc):
    with acme.scope():
        mine = b.submitted(acme, alloc)
    theirs = submit_other(acme, other_alloc)
    response = acme.client("channel_manager").get(CHANGELIST + "?assigned=me")
    assert mine.code in listed(response) and theirs.code not in listed(response)
    # Without the filter a channel manager sees all requests (read-only).
    assert theirs.code in listed(acme.client("channel_manager").get(CHANGELIST))


def test_status_partner_and_fund_type_filters(acme, alloc, other_alloc):
    with acme.scope():
        mine = b.submitted(acme, alloc)
    theirs = submit_other(acme, other_alloc)
    client = acme.client("ops_admin")
    response = client.get(CHANGELIST + f"?partner={acme.other_partner.pk}")
    assert listed(response) == [theirs.code]
    response = client.get(CHANGELIST + f"?fund_type={alloc.budget.fund_type_id}")
    assert set(listed(response)) == {mine.code, theirs.code}
    response = client.get(CHANGELIST + "?status=approved")
    assert listed(response) == []


def test_the_list_is_constant_in_queries(acme, alloc, django_assert_max_num_queries):
    with acme.scope():
        b.submitted(acme, alloc)
    client = acme.client("ops_admin")
    client.get(CHANGELIST)
    with django_assert_max_num_queries(20) as few:
        client.get(CHANGELIST)
    with acme.scope():
        for _ in range(6):
            b.submitted(acme, alloc)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(CHANGELIST)
    assert response.context["cl"].result_count == 7


def test_other_tenants_requests_are_404(acme, globex):
    with globex.scope():
        foreign = b.submitted(globex, b.allocation(globex))
    client = acme.client("ops_admin")
    assert client.get(change_url(foreign)).status_code == 404
    assert act(client, foreign, "approve").status_code == 404
    assert client.get(CHANGELIST).context["cl"].result_count == 0


# --- The page and its decisions ----------------------------------------------------------


def test_the_page_shows_cost_lines_and_the_whole_timeline(acme, alloc):
    with acme.scope():
        req = b.submitted(acme, alloc)
    response = acme.client("channel_manager").get(change_url(req))
    page = response.content.decode()
    assert "Platform and promotion" in page and "4,000.00" in page
    assert set(response.context["forms"]) == {"approve", "request_info", "reject", "message"}
    assert {e.kind for e in response.context["events"]} >= {"submitted"}


def test_approve_in_full(acme, alloc):
    with acme.scope():
        req = b.submitted(acme, alloc)
    response = act(acme.client("channel_manager"), req, "approve", amount="", reason="")
    assert response.status_code == 302
    done = fresh(acme, req)
    assert (done.status, done.reserved) == (Status.APPROVED, D("2000"))


def test_a_partial_approval_needs_a_reason(acme, alloc):
    with acme.scope():
        req = b.submitted(acme, alloc)
    client = acme.client("channel_manager")
    response = act(client, req, "approve", amount="1500", reason="")
    assert response.status_code == 200
    assert "Say why" in str(response.context["forms"]["approve"].errors["reason"])
    assert fresh(acme, req).status == Status.SUBMITTED
    response = act(client, req, "approve", amount="2500", reason="more")
    assert "at most" in str(response.context["forms"]["approve"].errors["amount"])
    response = act(client, req, "approve", amount="1500", reason="Venue is cheaper")
    assert response.status_code == 302
    assert fresh(acme, req).approved_amount == D("1500")


def test_reject_asks_first_then_rejects(acme, alloc):
    with acme.scope():
        req = b.submitted(acme, alloc)
    client = acme.client("channel_manager")
    asked = act(client, req, "reject", confirm=False, reason="Out of scope")
    assert asked.status_code == 200 and "Reject request" in asked.content.decode()
    assert fresh(acme, req).status == Status.SUBMITTED
    assert act(client, req, "reject", reason="Out of scope").status_code == 302
    assert fresh(acme, req).status == Status.REJECTED
    response = act(client, req, "reject", reason="")
    assert response.status_code in (200, 403)


def test_request_info_and_message(acme, alloc):
    with acme.scope():
        req = b.submitted(acme, alloc)
    client = acme.client("channel_manager")
    assert act(client, req, "message", text="Looks good so far").status_code == 302
    assert act(client, req, "request_info", message="Which venue?").status_code == 302
    assert fresh(acme, req).status == Status.MORE_INFO
    with acme.scope():
        kinds = list(ActivityEvent.objects.filter(request=req).values_list("kind", flat=True))
    assert "message" in kinds and "info_requested" in kinds


def test_a_channel_manager_only_reads_another_partners_request(acme, alloc, other_alloc):
    theirs = submit_other(acme, other_alloc)
    client = acme.client("channel_manager")
    response = client.get(change_url(theirs))
    assert response.status_code == 200
    assert response.context["forms"] == {}
    assert 'data-testid="read-only"' in response.content.decode()
    assert act(client, theirs, "approve").status_code == 403
    assert act(client, theirs, "reject", reason="no").status_code == 403
    assert fresh(acme, theirs).status == Status.SUBMITTED


@pytest.mark.parametrize("role", ["executive", "finance"])
def test_executives_and_finance_read_but_do_not_decide_first(acme, alloc, role):
    with acme.scope():
        req = b.submitted(acme, alloc)
    client = acme.client(role)
    response = client.get(change_url(req))
    assert response.status_code == 200
    assert not {"approve", "reject", "request_info"} & set(response.context["forms"])
    assert act(client, req, "approve").status_code == 403


def test_a_large_request_takes_a_second_approval(acme):
    with acme.scope():
        fund = b.fund_type(acme, second_approval_above=D("1000"))
        alloc = b.allocation(acme, D("10000"), fund=fund)
        req = b.submitted(acme, alloc)
    assert act(acme.client("channel_manager"), req, "approve").status_code == 302
    first = fresh(acme, req)
    assert first.status == Status.SUBMITTED and first.first_approved_by_id
    finance = acme.client("finance")
    page = finance.get(change_url(req))
    assert 'data-testid="second-approval"' in page.content.decode()
    assert "approve" in page.context["forms"]
    # The channel manager has approved once: no second time.
    assert act(acme.client("channel_manager"), req, "approve").status_code == 403
    assert act(finance, req, "approve").status_code == 302
    assert fresh(acme, req).status == Status.APPROVED


def test_decide_a_pending_claim_window_extension(acme, alloc):
    with acme.scope():
        req = b.approved(acme, alloc)
        requests.request_extension(req, by=acme["partner_user"], days=10, reason="Invoice late")
        extension = ClaimExtension.objects.get()
        deadline = FundRequest.objects.get(pk=req.pk).claim_deadline
    client = acme.client("channel_manager")
    page = client.get(change_url(req))
    assert page.context["forms"]["extension"].initial["extension"] == extension.pk
    data = {
        "_action": "extension",
        "extension-extension": str(extension.pk),
        "extension-decision": "approve",
        "extension-reason": "",
    }
    assert client.post(change_url(req), data).status_code == 302
    assert fresh(acme, req).claim_deadline == deadline + timedelta(days=10)


# --- Bulk decisions ---------------------------------------------------------------------------


def test_bulk_approve_reports_each_refusal(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("3000"))
        first = b.submitted(acme, alloc, amount=D("2000"))
        second = b.submitted(acme, alloc, amount=D("2000"))  # not enough left after the first
        rejected = b.submitted(acme, alloc, amount=D("500"))
        requests.reject_request(rejected, by=acme["ops_admin"], reason="no")
    set_due(acme, first, timezone.now())
    set_due(acme, second, timezone.now() + timedelta(hours=1))
    client = acme.client("ops_admin")
    page = bulk(client, "approve_selected", [first, second, rejected])
    assert page.status_code == 200 and page.context["decidable_count"] == 2
    assert fresh(acme, first).status == Status.SUBMITTED  # nothing yet
    response = bulk(client, "approve_selected", [first, second, rejected], confirm="1", reason="")
    assert response.status_code == 302
    said = " ".join(messages_of(response))
    assert fresh(acme, first).status == Status.APPROVED
    assert fresh(acme, second).status == Status.SUBMITTED
    assert f"{second.code}: Only 1,000.00" in said
    assert f"{rejected.code}:" in said
    assert f"Approved 1: {first.code}" in said


def test_bulk_reject_asks_for_one_reason(acme, alloc, other_alloc):
    with acme.scope():
        mine = b.submitted(acme, alloc)
    theirs = submit_other(acme, other_alloc)
    client = acme.client("channel_manager")
    page = bulk(client, "reject_selected", [mine, theirs])
    assert page.context["decidable_count"] == 1  # not theirs: another partner's
    response = bulk(client, "reject_selected", [mine, theirs], confirm="1", reason="")
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    response = bulk(client, "reject_selected", [mine, theirs], confirm="1", reason="Budget cut")
    assert fresh(acme, mine).status == Status.REJECTED
    assert fresh(acme, theirs).status == Status.SUBMITTED
    assert any(theirs.code in m for m in messages_of(response))


def test_bulk_actions_are_for_deciders(acme, alloc):
    assert "approve_selected" not in acme.client("executive").get(CHANGELIST).content.decode()
    assert "approve_selected" in acme.client("finance").get(CHANGELIST).content.decode()
