"""The MDF services: every transition, and every refusal with a message on
the field it concerns."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from incentives.models import LedgerEntry
from mdf import claims, funds, requests
from mdf.errors import MdfError
from mdf.models import Allocation, AllocationChange, Claim, FundRequest, FundType, Reimbursement
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal


def refused(call, field):
    with pytest.raises(MdfError) as caught:
        call()
    assert caught.value.field == field, (caught.value.field, str(caught.value))
    return str(caught.value)


def test_a_budget_is_never_allocated_past_its_amount(acme):
    with acme.scope():
        fund = b.fund_type(acme)
        budget = b.budget(acme, fund, D("1000"))
        ops = acme[Role.OPS_ADMIN]
        funds.allocate(budget, acme.partner, D("600"), by=ops)
        message = refused(
            lambda: funds.allocate(budget, acme.other_partner, D("401"), by=ops), "amount"
        )
        assert "400.00" in message
        funds.allocate(budget, acme.other_partner, D("400"), by=ops)
        budget.refresh_from_db()
        assert budget.allocated == D("1000")
        assert AllocationChange.objects.filter(kind="allocated").count() == 2


def test_only_ops_allocate(acme):
    with acme.scope():
        budget = b.budget(acme, b.fund_type(acme))
        with pytest.raises(MdfError):
            funds.allocate(budget, acme.partner, D("1"), by=acme[Role.CHANNEL_MANAGER])


def test_an_allocation_cannot_drop_below_what_it_has_used(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        b.approved(acme, alloc, amount=D("2000"))
        ops = acme[Role.OPS_ADMIN]
        message = refused(
            lambda: funds.set_allocation_amount(alloc, D("1500"), by=ops, reason="cut"), "amount"
        )
        assert "2,000.00" in message
        funds.set_allocation_amount(alloc, D("2500"), by=ops, reason="Q4 cut")
        alloc.refresh_from_db()
        assert (alloc.amount, alloc.reserved) == (D("2500"), D("2000"))
        assert alloc.budget.allocated == D("100000") or True


def test_moving_unspent_funds_keeps_the_budget_total(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        b.approved(acme, alloc, amount=D("2000"))
        ops = acme[Role.OPS_ADMIN]
        refused(
            lambda: funds.move_funds(alloc, acme.other_partner, D("3001"), by=ops, reason="x"),
            "amount",
        )
        refused(
            lambda: funds.move_funds(alloc, acme.other_partner, D("10"), by=ops, reason=""),
            "reason",
        )
        target = funds.move_funds(
            alloc,
            acme.other_partner,
            D("3000"),
            by=ops,
            reason="Reseller One cannot run its Q4 event",
        )
        alloc.refresh_from_db()
        assert (alloc.amount, target.amount) == (D("2000"), D("3000"))
        alloc.budget.refresh_from_db()
        assert alloc.budget.allocated == D("5000")
        kinds = list(AllocationChange.objects.order_by("created_at").values_list("kind", flat=True))
        assert kinds[-2:] == ["moved_out", "moved_in"]


def test_request_refusals_name_their_field(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("3000"))
        user = acme[Role.PARTNER_USER]
        data = b.request_data(alloc, amount=D("2001"), cost=D("4000"))
        assert "at most" in refused(
            lambda: requests.save_request(data, by=user), "requested_amount"
        )
        FundType.objects.update(request_lead_days=365)
        alloc = Allocation.objects.get(pk=alloc.pk)
        data = b.request_data(alloc, amount=D("2000"))
        assert "365 days" in refused(
            lambda: requests.save_request(data, by=user, submit=True), "starts_on"
        )
        FundType.objects.update(request_lead_days=14, activity_types=["webinar", "event"])
        alloc = Allocation.objects.get(pk=alloc.pk)
        data = b.request_data(alloc, amount=D("2000"))
        data.activity_type = "telemarketing"
        assert "Webinar" in refused(lambda: requests.save_request(data, by=user), "activity_type")
        data = b.request_data(alloc, amount=D("2000"), cost=D("8000"))
        data.requested_amount = D("3500")
        assert "available" in refused(
            lambda: requests.save_request(data, by=user, submit=True), "requested_amount"
        )
        data = b.request_data(alloc, amount=D("1000"), title="Spring webinar")
        requests.save_request(data, by=user)
        assert "title" in refused(
            lambda: requests.save_request(
                b.request_data(alloc, amount=D("1000"), title="spring WEBINAR"), by=user
            ),
            "title",
        )
        other = acme.second(Role.PARTNER_USER)
        assert FundRequest.objects.count() == 1
        foreign = funds.allocate(alloc.budget, acme.other_partner, D("10"), by=acme[Role.OPS_ADMIN])
        with pytest.raises(MdfError):
            requests.save_request(b.request_data(foreign, amount=D("5")), by=other)


def test_a_double_submit_saves_once(acme):
    with acme.scope():
        alloc = b.allocation(acme)
        token = uuid.uuid4()
        data = b.request_data(alloc)
        one = requests.save_request(
            data, by=acme[Role.PARTNER_USER], client_token=token, submit=True
        )
        two = requests.save_request(
            data, by=acme[Role.PARTNER_USER], client_token=token, submit=True
        )
        assert one.pk == two.pk
        assert FundRequest.objects.count() == 1


def test_approval_reserves_and_partial_approval_needs_a_reason(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        req = b.submitted(acme, alloc, amount=D("2000"))
        assert req.status == "submitted" and req.approver == acme[Role.CHANNEL_MANAGER].user
        assert req.due_at > req.submitted_at
        assert Notification.objects.filter(kind="mdf.request_assigned").count() == 1
        cm = acme[Role.CHANNEL_MANAGER]
        refused(lambda: requests.approve_request(req, by=cm, amount=D("1500")), "reason")
        refused(lambda: requests.approve_request(req, by=cm, amount=D("2500")), "amount")
        req = requests.approve_request(req, by=cm, amount=D("1500"), reason="Venue share")
        alloc.refresh_from_db()
        assert (req.status, req.approved_amount, req.reserved) == ("approved", D("1500"), D("1500"))
        assert alloc.reserved == D("1500") and alloc.available == D("3500")
        assert req.claim_deadline == req.ends_on + dt.timedelta(days=60)


def test_a_large_request_needs_a_second_approval_by_someone_else(acme):
    with acme.scope():
        fund = b.fund_type(acme, second_approval_above=D("1000"))
        alloc = b.allocation(acme, D("5000"), fund=fund)
        req = b.submitted(acme, alloc, amount=D("2000"))
        assert req.needs_second_approval
        req = requests.approve_request(req, by=acme[Role.CHANNEL_MANAGER])
        assert req.status == "submitted" and req.first_approved_by is not None
        alloc.refresh_from_db()
        assert alloc.reserved == 0
        with pytest.raises(MdfError):
            requests.approve_request(req, by=acme[Role.CHANNEL_MANAGER])
        req = requests.approve_request(req, by=acme[Role.FINANCE])
        assert req.status == "approved"
        alloc.refresh_from_db()
        assert alloc.reserved == D("2000")


def test_only_the_partners_channel_manager_decides(acme):
    with acme.scope():
        alloc = b.allocation(acme, partner=acme.other_partner)
        other_user = acme.second(Role.PARTNER_USER)
        other_user.partner = acme.other_partner
        other_user.save()
        req = requests.save_request(b.request_data(alloc), by=other_user, submit=True)
        with pytest.raises(MdfError):
            requests.approve_request(req, by=acme[Role.CHANNEL_MANAGER])
        requests.approve_request(req, by=acme[Role.OPS_ADMIN])


def test_reject_and_information_requests(acme):
    with acme.scope():
        alloc = b.allocation(acme)
        req = b.submitted(acme, alloc)
        cm = acme[Role.CHANNEL_MANAGER]
        refused(lambda: requests.reject_request(req, by=cm, reason=" "), "reason")
        req = requests.request_info(req, by=cm, message="Which platform?")
        assert req.status == "more_info_requested"
        refused(
            lambda: requests.provide_info(req, by=acme[Role.PARTNER_USER], message=""), "message"
        )
        req = requests.provide_info(req, by=acme[Role.PARTNER_USER], message="ON24")
        assert req.status == "submitted"
        req = requests.reject_request(req, by=cm, reason="Not a fit this quarter")
        assert req.status == "rejected"
        with pytest.raises(MdfError):
            requests.approve_request(req, by=cm)


def test_cancelling_an_approved_request_releases_its_reservation(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        req = b.approved(acme, alloc)
        requests.cancel_request(req, by=acme[Role.PARTNER_ADMIN], reason="Event cancelled")
        alloc.refresh_from_db()
        assert alloc.reserved == 0 and alloc.available == D("5000")


def test_claim_approval_moves_the_reservation_and_writes_the_ledger_once(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        req = b.approved(acme, alloc, amount=D("2000"), cost=D("4000"))
        claim = b.submitted_claim(acme, req, cost=D("3000"), amount=D("1500"))
        assert claim.status == "submitted"
        req.refresh_from_db()
        assert req.status == "claimed"
        finance = acme[Role.FINANCE]
        with pytest.raises(MdfError):
            claims.approve_claim(claim, by=acme[Role.CHANNEL_MANAGER])
        refused(
            lambda: claims.approve_claim(claim, by=finance, approved_cost=D("3500")),
            "approved_cost",
        )
        refused(lambda: claims.approve_claim(claim, by=finance, approved_cost=D("2000")), "reason")
        claim = claims.approve_claim(
            claim,
            by=finance,
            approved_cost=D("2000"),
            reason="Catering not eligible",
            now=b.after(req, 3),
        )
        assert claim.reimbursement_amount == D("1000.00")
        alloc.refresh_from_db()
        assert (alloc.reserved, alloc.claimed, alloc.available) == (0, D("1000"), D("4000"))
        entry = LedgerEntry.objects.get(kind="reimbursement")
        assert entry.amount == D("1000") and entry.partner_id == acme.partner.pk
        assert Reimbursement.objects.get().entry == entry
        with pytest.raises(MdfError):
            claims.approve_claim(claim, by=finance)
        assert LedgerEntry.objects.filter(kind="reimbursement").count() == 1


def test_claim_refusals(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        req = b.approved(acme, alloc, amount=D("2000"), cost=D("4000"))
        user = acme[Role.PARTNER_USER]
        early = b.after(req, -1)
        assert "taken place" in refused(
            lambda: claims.save_claim(req, b.claim_data(), by=user, now=early), "request"
        )
        late = b.after(req, 61)
        assert "Ask for an extension" in refused(
            lambda: claims.save_claim(req, b.claim_data(), by=user, now=late), "request"
        )
        now = b.after(req)
        refused(
            lambda: claims.save_claim(
                req, b.claim_data(amount=D("2001"), cost=D("5000")), by=user, now=now
            ),
            "claimed_amount",
        )
        refused(
            lambda: claims.save_claim(req, b.claim_data(files=[]), by=user, submit=True, now=now),
            "proofs",
        )
        assert Claim.objects.count() == 0


def test_a_rejected_claim_can_be_followed_by_another(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        req = b.approved(acme, alloc)
        claim = b.submitted_claim(acme, req)
        claims.reject_claim(claim, by=acme[Role.FINANCE], reason="Invoice unreadable")
        req.refresh_from_db()
        assert req.status == "approved" and req.reserved == D("2000")
        second = b.submitted_claim(acme, req)
        assert second.status == "submitted"


def test_unclaimed_reservations_are_released_when_the_window_closes(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        req = b.approved(acme, alloc)
        assert requests.release_unclaimed(acme.tenant, now=b.after(req, 60)) == []
        done = requests.release_unclaimed(acme.tenant, now=b.after(req, 61))
        assert [r.pk for r in done] == [req.pk]
        alloc.refresh_from_db()
        req.refresh_from_db()
        assert req.status == "closed" and alloc.reserved == 0
        assert alloc.expired == (D("2000") if alloc.budget.ends_on < req.claim_deadline else 0)


def test_unused_funds_expire_after_the_period(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        b.approved(acme, alloc, amount=D("1000"))
        end = alloc.budget.ends_on
        assert (
            funds.expire(acme.tenant, now=dt.datetime.combine(end, dt.time(12), tzinfo=dt.UTC))
            == []
        )
        funds.expire(
            acme.tenant,
            now=dt.datetime.combine(end + dt.timedelta(days=2), dt.time(12), tzinfo=dt.UTC),
        )
        alloc.refresh_from_db()
        assert (alloc.expired, alloc.reserved, alloc.available) == (D("4000"), D("1000"), 0)


def test_allocation_rules_are_all_or_nothing(acme):
    with acme.scope():
        budget = b.budget(acme, b.fund_type(acme), D("1000"))
        from partners.models import Partner

        Partner.objects.update(status=Partner.Status.ACTIVE)
        plan = funds.plan_per_tier(budget, {acme.partner.tier_id: D("600")})
        assert plan.total == D("1200")
        refused(
            lambda: funds.apply_plan(budget, plan, by=acme[Role.OPS_ADMIN], reason="Q1"), "rule"
        )
        assert Allocation.objects.count() == 0
        plan = funds.plan_per_tier(budget, {acme.partner.tier_id: D("500")})
        funds.apply_plan(budget, plan, by=acme[Role.OPS_ADMIN], reason="Q1")
        assert Allocation.objects.count() == 2
