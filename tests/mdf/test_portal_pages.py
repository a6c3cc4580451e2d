"""The portal's "Funds" pages: each renders for the partner's admin and
user, staff get 403, anonymous visitors are sent to log in, another
partner's or tenant's codes answer 404, the timeline never shows internal
events, and the overview shows the money as bars with their figures."""

from decimal import Decimal

import pytest
from django.test import Client

from incentives import payouts
from incentives.models import IncentiveSettings
from mdf import claims, requests
from mdf.models import ActivityEvent, Claim, FundRequest
from prm.format import day
from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES, Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def funded(acme):
    """An allocation with a draft, a submitted and an approved request."""
    with acme.scope():
        alloc = b.allocation(acme, D("10000"))
        draft = requests.save_request(b.request_data(alloc), by=acme[Role.PARTNER_USER])
        pending = b.submitted(acme, alloc)
        approved = b.approved(acme, alloc, amount=D("1500"))
    return {"allocation": alloc, "draft": draft, "pending": pending, "approved": approved}


@pytest.fixture
def claimed(acme, funded):
    """The approved request claimed (after the activity) with a PDF."""
    req = funded["approved"]
    with acme.scope():
        claim = b.submitted_claim(acme, req, amount=D("1500"))
    return claim


def pages(funded, claim=None):
    urls = [
        "/funds/",
        "/funds/requests/",
        "/funds/requests/new/",
        f"/funds/requests/{funded['draft'].code}/",
        f"/funds/requests/{funded['draft'].code}/edit/",
        f"/funds/requests/{funded['pending'].code}/",
        f"/funds/requests/{funded['approved'].code}/",
    ]
    if claim is not None:
        urls.append(f"/funds/claims/{claim.code}/")
    return urls


@pytest.mark.parametrize("role", sorted(PARTNER_ROLES))
def test_every_page_renders_for_partner_people(acme, funded, claimed, role):
    client = acme.client(role)
    for url in pages(funded, claimed):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert b'class="topbar"' in response.content


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_staff_get_403(acme, funded, claimed, role):
    client = acme.client(role)
    for url in pages(funded, claimed):
        assert client.get(url).status_code == 403, url


def test_anonymous_is_sent_to_log_in(acme, funded, claimed):
    anonymous = Client(HTTP_HOST=acme.host)
    for url in pages(funded, claimed):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_another_partners_codes_are_404(acme, funded, claimed):
    from tests import factories

    with acme.scope():
        other = factories.make_member(
            acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner, email="x@other.test"
        )
    client = Client(HTTP_HOST=acme.host)
    client.force_login(other.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    for url in pages(funded, claimed)[3:]:
        assert client.get(url).status_code == 404, url
    # ... and the other partner's overview shows none of them.
    page = client.get("/funds/").content.decode()
    assert funded["approved"].code not in page


def test_another_tenants_codes_are_404(acme, globex, funded, claimed):
    intruder = globex.client(Role.PARTNER_ADMIN)
    for url in pages(funded, claimed)[3:]:
        assert intruder.get(url).status_code == 404, url


def test_codes_are_found_whatever_their_case(acme, funded):
    code = funded["pending"].code.lower()
    assert acme.client(Role.PARTNER_USER).get(f"/funds/requests/{code}/").status_code == 200


def test_the_overview_shows_each_allocation_as_a_bar_with_its_figures(acme, funded, claimed):
    with acme.scope():
        claims.approve_claim(claimed, by=acme[Role.FINANCE])
    response = acme.client(Role.PARTNER_ADMIN).get("/funds/")
    page = response.content.decode()
    assert 'class="stackbar"' in page and 'role="img"' in page
    # reserved: draft 0 + submitted 0 + approved 1 500 claimed (approved claim)
    [row] = [r for p in response.context["periods"] for r in p["rows"]]
    assert row.allocation.claimed == D("1500")
    assert row.paid == 0
    label = row.summary
    assert "claimed, not paid yet 1,500.00 USD" in label and "available 8,500.00 USD" in label
    assert f'aria-label="{label}"' in page
    assert "Claimed 1,500.00 USD, not paid yet" not in page  # the legend says it once, in order
    assert "Claimed, not paid yet 1,500.00 USD" in page
    assert funded["pending"].code in page and funded["draft"].code in page
    assert "Decision due" in page


def _pay(world, paid_on):
    """Pay what the partner is owed through a payout run (the services)."""
    IncentiveSettings.objects.update_or_create(
        tenant=world.tenant, defaults={"holding_days": 0, "minimum_payout": D(0)}
    )
    finance = world[Role.FINANCE]
    run = payouts.start_run(world.tenant, by=finance, cutoff=world.tenant.local_today())
    run = payouts.compute_run(run)
    run = payouts.approve(run, by=world.second(Role.FINANCE))
    run = payouts.write_payouts(run)
    return payouts.mark_paid(run, by=finance, reference="BANK-1", paid_on=paid_on)


def test_a_paid_reimbursement_shows_as_paid(acme, funded, claimed):
    with acme.scope():
        claims.approve_claim(claimed, by=acme[Role.FINANCE])
        _pay(acme, acme.tenant.local_today())
    client = acme.client(Role.PARTNER_USER)
    response = client.get("/funds/")
    [row] = [r for p in response.context["periods"] for r in p["rows"]]
    assert row.paid == D("1500")
    assert "1,500.00 USD" in response.content.decode()
    page = client.get(f"/funds/claims/{claimed.code}/").content.decode()
    assert "Paid " + day(acme.tenant.local_today()) in page


def test_the_timeline_hides_internal_events(acme, funded):
    req = funded["pending"]
    with acme.scope():
        ActivityEvent.objects.create(
            tenant=acme.tenant,
            request=req,
            kind=ActivityEvent.Kind.MESSAGE,
            message="Internal: this partner overspends every quarter",
            visible_to_partner=False,
        )
        ActivityEvent.objects.create(
            tenant=acme.tenant,
            request=req,
            kind=ActivityEvent.Kind.REMINDER,
            message="Reminder for the approver",
            visible_to_partner=False,
        )
        assert req.events.filter(kind=ActivityEvent.Kind.ASSIGNED, visible_to_partner=False)
    page = acme.client(Role.PARTNER_USER).get(f"/funds/requests/{req.code}/").content.decode()
    assert "overspends" not in page
    assert "Reminder for the approver" not in page
    assert "Assigned" not in page
    assert acme[Role.CHANNEL_MANAGER].user.email not in page
    assert "Submitted" in page


def test_the_claim_page_hides_duplicate_flags_and_links_the_proof(acme, funded, claimed):
    with acme.scope():
        Claim.objects.filter(pk=claimed.pk).update(duplicate_of=["FC-DUPLICATE"])
    page = acme.client(Role.PARTNER_USER).get(f"/funds/claims/{claimed.code}/").content.decode()
    assert "FC-DUPLICATE" not in page and "uplicate" not in page
    assert "invoice.pdf" in page


def test_approved_activity_offers_a_claim_once_it_ended(acme, funded, time_machine):
    req = funded["approved"]
    page = acme.client(Role.PARTNER_USER).get(f"/funds/requests/{req.code}/").content.decode()
    assert f"/funds/requests/{req.code}/claim/" not in page
    assert "You can claim once the activity has ended" in page
    time_machine.move_to(b.after(req, 2))
    client = acme.client(Role.PARTNER_USER)
    page = client.get(f"/funds/requests/{req.code}/").content.decode()
    assert f"/funds/requests/{req.code}/claim/" in page
    assert "Ask for more time" in page


def test_messages_and_answers(acme, funded):
    req = funded["pending"]
    with acme.scope():
        requests.request_info(req, by=acme[Role.CHANNEL_MANAGER], message="Which venue?")
    client = acme.client(Role.PARTNER_USER)
    page = client.get(f"/funds/requests/{req.code}/").content.decode()
    assert "Which venue?" in page
    response = client.post(f"/funds/requests/{req.code}/answer/", {"message": "The Hilton."})
    assert response.status_code == 302
    with acme.scope():
        req.refresh_from_db()
        assert req.status == FundRequest.Status.SUBMITTED
    response = client.post(f"/funds/requests/{req.code}/messages/", {"message": ""})
    assert response.status_code == 400
    response = client.post(f"/funds/requests/{req.code}/messages/", {"message": "Thanks!"})
    assert response.status_code == 302
    assert "Thanks!" in client.get(f"/funds/requests/{req.code}/").content.decode()


def test_cancel_asks_first_then_releases_the_reservation(acme, funded):
    req = funded["approved"]
    client = acme.client(Role.PARTNER_ADMIN)
    url = f"/funds/requests/{req.code}/cancel/"
    page = client.post(url, {"reason": "Venue closed"})
    assert page.status_code == 200 and b"go back to your available funds" in page.content
    with acme.scope():
        assert FundRequest.objects.get(pk=req.pk).status == FundRequest.Status.APPROVED
    response = client.post(url, {"reason": "Venue closed", "confirm": "yes"})
    assert response.status_code == 302
    with acme.scope():
        req.refresh_from_db()
        assert req.status == FundRequest.Status.CANCELLED
        assert req.allocation.reserved == 0


def test_extension_request(acme, funded):
    req = funded["approved"]
    client = acme.client(Role.PARTNER_USER)
    url = f"/funds/requests/{req.code}/extension/"
    assert client.post(url, {"days": "30", "reason": ""}).status_code == 400
    assert client.post(url, {"days": "30", "reason": "Invoice late"}).status_code == 302
    page = client.get(f"/funds/requests/{req.code}/").content.decode()
    assert "30 more days" in page and "Ask for more time" not in page


def test_withdraw_a_claim_asks_first(acme, funded, claimed):
    client = acme.client(Role.PARTNER_USER)
    url = f"/funds/claims/{claimed.code}/withdraw/"
    assert client.post(url).status_code == 200
    assert client.post(url, {"confirm": "yes"}).status_code == 302
    with acme.scope():
        assert Claim.objects.get(pk=claimed.pk).status == Claim.Status.WITHDRAWN


def test_a_claim_info_request_is_answered_from_the_claim_page(acme, funded, claimed):
    with acme.scope():
        claims.request_claim_info(claimed, by=acme[Role.FINANCE], message="Attendee list?")
    client = acme.client(Role.PARTNER_USER)
    page = client.get(f"/funds/claims/{claimed.code}/").content.decode()
    assert "Attendee list?" in page
    response = client.post(f"/funds/claims/{claimed.code}/answer/", {"message": "Attached."})
    assert response.status_code == 302
    with acme.scope():
        assert Claim.objects.get(pk=claimed.pk).status == Claim.Status.SUBMITTED


def test_request_list_filters_by_status_and_paginates(acme, funded):
    client = acme.client(Role.PARTNER_USER)
    response = client.get("/funds/requests/?status=draft")
    assert [r["request"].code for r in response.context["activities"]] == [funded["draft"].code]
    response = client.get("/funds/requests/?status=nonsense")
    assert response.status_code == 200
    assert len(response.context["activities"]) == 3
    assert client.get("/funds/requests/?page=zz").status_code == 200
