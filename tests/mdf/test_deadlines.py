"""MDF deadlines with time moved: decision reminders and escalations (once
each, none for decided rows), claim window and expiry warnings (once per
threshold), release after the claim window, expiry after the period, and
the per-minute dispatch that picks only tenants with something due."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from mdf import claims, deadlines, funds, requests, tasks
from mdf.models import ActivityEvent, Allocation, Claim, FundRequest
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db
D = Decimal
Kind = ActivityEvent.Kind


def noon(world, day: dt.date) -> dt.datetime:
    """Noon of ``day`` in the tenant's time zone."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=world.tenant.tzinfo)


def notes(kind, world=None, role=None):
    qs = Notification.objects.filter(kind=kind)
    if role is not None:
        qs = qs.filter(user=world[role].user)
    return list(qs)


def events(req, kind):
    return list(ActivityEvent.objects.filter(request=req, kind=kind))


# --- Decisions ------------------------------------------------------------------------


def test_a_pending_request_is_reminded_once_then_escalated_once(acme):
    with acme.scope():
        req = b.submitted(acme, b.allocation(acme))
        assert req.next_check_at is not None and req.due_at is not None
        assert req.next_check_at < req.due_at
        before = req.next_check_at - dt.timedelta(minutes=1)
        assert deadlines.sweep_decisions(acme.tenant, now=before).checked == 0

        remind_at = req.next_check_at
        result = deadlines.sweep_decisions(acme.tenant, now=remind_at)
        assert (result.reminders, result.escalations) == (1, 0)
        reminders = notes("mdf.reminder")
        assert [n.user for n in reminders] == [acme[Role.CHANNEL_MANAGER].user]
        assert reminders[0].task == "decide"
        req.refresh_from_db()
        assert req.reminded_at == remind_at
        assert req.next_check_at == req.due_at
        (event,) = events(req, Kind.REMINDER)
        assert not event.visible_to_partner

        # Running again at the same moment, or later before the deadline, sends nothing.
        again = deadlines.sweep_decisions(acme.tenant, now=req.due_at - dt.timedelta(seconds=1))
        assert (again.checked, again.reminders) == (0, 0)
        assert len(notes("mdf.reminder")) == 1

        result = deadlines.sweep_decisions(acme.tenant, now=req.due_at)
        assert (result.reminders, result.escalations) == (0, 1)
        told = {n.user for n in notes("mdf.escalated")}
        assert told == {acme[Role.OPS_ADMIN].user, acme[Role.CHANNEL_MANAGER].user}
        req.refresh_from_db()
        assert req.escalated_at is not None and req.next_check_at is None
        (event,) = events(req, Kind.ESCALATED)
        assert not event.visible_to_partner and "was due" in event.message

        later = deadlines.sweep_decisions(acme.tenant, now=req.due_at + dt.timedelta(days=3))
        assert later.checked == 0
        assert len(notes("mdf.escalated")) == 2  # the two people, once
        assert len(notes("mdf.reminder")) == 1


def test_a_sweep_that_comes_late_escalates_without_a_stale_reminder(acme):
    with acme.scope():
        req = b.submitted(acme, b.allocation(acme))
        result = deadlines.sweep_decisions(acme.tenant, now=req.due_at + dt.timedelta(hours=1))
        assert (result.reminders, result.escalations) == (0, 1)
        assert notes("mdf.reminder") == []


def test_a_large_request_awaiting_its_second_approval_escalates_to_ops_and_finance(acme):
    with acme.scope():
        fund = b.fund_type(acme, second_approval_above=D("1000"))
        alloc = b.allocation(acme, fund=fund)
        req = b.submitted(acme, alloc, amount=D("1500"))
        requests.approve_request(req, by=acme[Role.CHANNEL_MANAGER])
        req.refresh_from_db()
        assert req.status == FundRequest.Status.SUBMITTED and req.first_approved_by_id
        deadlines.sweep_decisions(acme.tenant, now=req.due_at)
        told = {n.user for n in notes("mdf.escalated")}
        assert told == {acme[Role.OPS_ADMIN].user, acme[Role.FINANCE].user}
        assert {n.task for n in notes("mdf.escalated")} == {"second_approval"}


def test_decided_requests_are_left_alone(acme):
    with acme.scope():
        alloc = b.allocation(acme)
        approved = b.approved(acme, alloc)
        rejected = requests.reject_request(
            b.submitted(acme, alloc), by=acme[Role.CHANNEL_MANAGER], reason="Out of scope."
        )
        asked = requests.request_info(
            b.submitted(acme, alloc), by=acme[Role.CHANNEL_MANAGER], message="Which venue?"
        )
        assert {approved.next_check_at, rejected.next_check_at, asked.next_check_at} == {None}
        # A stale check on a decided row (a service that forgot to clear it) is cleared silently.
        FundRequest.objects.filter(pk=approved.pk).update(
            next_check_at=approved.decided_at, due_at=approved.decided_at
        )
        result = deadlines.sweep_decisions(
            acme.tenant, now=approved.decided_at + dt.timedelta(days=30)
        )
        assert (result.checked, result.reminders, result.escalations) == (1, 0, 0)
        approved.refresh_from_db()
        assert approved.next_check_at is None
        assert notes("mdf.reminder") == notes("mdf.escalated") == []


def test_a_submitted_claim_reminds_finance_then_escalates_to_ops_and_finance(acme):
    with acme.scope():
        req = b.approved(acme, b.allocation(acme))
        claim = b.submitted_claim(acme, req)
        assert claim.next_check_at is not None and claim.due_at is not None

        result = deadlines.sweep_decisions(acme.tenant, now=claim.next_check_at)
        assert result.reminders == 1
        assert [n.user for n in notes("mdf.reminder")] == [acme[Role.FINANCE].user]
        assert notes("mdf.reminder")[0].task == "review_claim"
        assert deadlines.sweep_decisions(acme.tenant, now=claim.next_check_at).reminders == 0

        deadlines.sweep_decisions(acme.tenant, now=claim.due_at)
        deadlines.sweep_decisions(acme.tenant, now=claim.due_at + dt.timedelta(hours=5))
        told = [n.user for n in notes("mdf.escalated")]
        assert sorted(u.email for u in told) == sorted(
            [acme[Role.OPS_ADMIN].user.email, acme[Role.FINANCE].user.email]
        )
        claim.refresh_from_db()
        assert claim.escalated_at is not None and claim.next_check_at is None
        (event,) = events(req, Kind.ESCALATED)
        assert event.claim_id == claim.pk and not event.visible_to_partner


def test_a_decided_claim_is_not_reminded(acme):
    with acme.scope():
        req = b.approved(acme, b.allocation(acme))
        claim = b.submitted_claim(acme, req)
        due = claim.due_at
        claims.approve_claim(claim, by=acme[Role.FINANCE], now=b.after(req, 2))
        result = deadlines.sweep_decisions(acme.tenant, now=due + dt.timedelta(days=1))
        assert result.checked == 0
        assert notes("mdf.reminder") == notes("mdf.escalated") == []


def test_an_answered_request_gets_a_new_reminder_cycle(acme):
    with acme.scope():
        req = b.submitted(acme, b.allocation(acme))
        deadlines.sweep_decisions(acme.tenant, now=req.due_at)  # escalated
        requests.request_info(req, by=acme[Role.CHANNEL_MANAGER], message="Which venue?")
        answered = requests.provide_info(req, by=acme[Role.PARTNER_USER], message="The Hilton.")
        assert answered.reminded_at is None and answered.escalated_at is None
        deadlines.sweep_decisions(acme.tenant, now=answered.due_at)
        assert len(events(req, Kind.ESCALATED)) == 2


# --- Claim windows --------------------------------------------------------------------


def test_the_partner_is_warned_7_days_and_1_day_before_the_claim_window_closes(acme):
    with acme.scope():
        req = b.approved(acme, b.allocation(acme))
        deadline = req.claim_deadline

        def sweep(days_before):
            return deadlines.sweep_dates(
                acme.tenant, now=noon(acme, deadline - dt.timedelta(days=days_before))
            )

        assert sweep(8).window_warnings == 0
        assert sweep(7).window_warnings == 1
        assert sweep(7).window_warnings == 0
        assert sweep(3).window_warnings == 0
        assert sweep(1).window_warnings == 1
        assert sweep(1).window_warnings == 0
        assert sweep(0).window_warnings == 0
        warned = notes("mdf.window_closing")
        assert {n.user for n in warned} == {
            acme[Role.PARTNER_USER].user,
            acme[Role.PARTNER_ADMIN].user,
        }
        assert len(warned) == 4  # two people, twice
        assert sorted(e.data["days"] for e in events(req, Kind.WINDOW_CLOSING)) == [1, 7]

        # The window closes: the reservation is released and the request closed.
        result = sweep(-1)
        assert result.released == 1
        req.refresh_from_db()
        assert req.status == FundRequest.Status.CLOSED and req.reserved == 0


def test_an_extension_rearms_the_window_warnings(acme):
    with acme.scope():
        req = b.approved(acme, b.allocation(acme))
        first = req.claim_deadline
        deadlines.sweep_dates(acme.tenant, now=noon(acme, first - dt.timedelta(days=1)))
        ext = requests.request_extension(
            req, by=acme[Role.PARTNER_ADMIN], days=10, reason="Invoice late."
        )
        requests.decide_extension(ext, by=acme[Role.CHANNEL_MANAGER], approve=True)
        req.refresh_from_db()
        result = deadlines.sweep_dates(
            acme.tenant, now=noon(acme, req.claim_deadline - dt.timedelta(days=1))
        )
        assert result.window_warnings == 1


def test_no_window_warning_before_the_activity_has_taken_place_or_once_claimed(acme):
    with acme.scope():
        fund = b.fund_type(acme, claim_window_days=3)
        req = b.approved(acme, b.allocation(acme, fund=fund))
        # Four days before the window closes the activity has not ended yet.
        result = deadlines.sweep_dates(acme.tenant, now=noon(acme, req.ends_on - dt.timedelta(1)))
        assert result.window_warnings == 0
        b.submitted_claim(acme, req)
        result = deadlines.sweep_dates(
            acme.tenant, now=noon(acme, req.claim_deadline - dt.timedelta(days=1))
        )
        assert result.window_warnings == 0


# --- Expiry -----------------------------------------------------------------------------


def test_unused_funds_are_announced_30_and_7_days_before_they_expire(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        ends = alloc.budget.ends_on

        def sweep(days_before):
            return deadlines.sweep_dates(
                acme.tenant, now=noon(acme, ends - dt.timedelta(days=days_before))
            )

        assert sweep(31).expiry_warnings == 0
        assert sweep(30).expiry_warnings == 1
        assert sweep(30).expiry_warnings == 0
        assert sweep(12).expiry_warnings == 0
        assert sweep(7).expiry_warnings == 1
        assert sweep(2).expiry_warnings == 0
        alloc.refresh_from_db()
        assert alloc.warned_days == 7
        warned = notes("mdf.expiry_warning")
        assert [n.user for n in warned] == [acme[Role.PARTNER_ADMIN].user] * 2
        assert "5,000.00" in warned[0].title

        # After the period what is left expires.
        result = sweep(-1)
        assert result.expired == 1
        alloc.refresh_from_db()
        assert alloc.expired == D("5000") and alloc.available == 0


def test_a_late_first_sweep_sends_only_the_7_day_warning(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("5000"))
        ends = alloc.budget.ends_on

        def sweep(days_before):
            now = noon(acme, ends - dt.timedelta(days=days_before))
            return deadlines.sweep_dates(acme.tenant, now=now).expiry_warnings

        assert sweep(5) == 1
        assert sweep(3) == 0


def test_nothing_is_announced_when_nothing_is_available(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("2000"))
        b.approved(acme, alloc, amount=D("2000"))
        alloc.refresh_from_db()
        assert alloc.available == 0
        ends = alloc.budget.ends_on
        result = deadlines.sweep_dates(acme.tenant, now=noon(acme, ends - dt.timedelta(days=30)))
        assert result.expiry_warnings == 0
        assert Allocation.objects.get(pk=alloc.pk).warned_days is None


def test_the_warning_mark_is_one_conditional_update(acme):
    """Two sweeps racing: the second finds the allocation already marked."""
    with acme.scope():
        alloc = b.allocation(acme, D("1000"))
        ends = alloc.budget.ends_on
        low, high = ends - dt.timedelta(days=30), ends
        assert deadlines._claim_expiry_warning(acme.tenant, 30, low, high) == [alloc.pk]
        assert deadlines._claim_expiry_warning(acme.tenant, 30, low, high) == []
        assert deadlines._claim_expiry_warning(acme.tenant, 7, low, high) == [alloc.pk]


def test_a_moved_allocation_is_warned_for_what_it_still_has(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("3000"))
        funds.move_funds(
            alloc, acme.other_partner, D("1000"), by=acme[Role.OPS_ADMIN], reason="Unused."
        )
        ends = alloc.budget.ends_on
        result = deadlines.sweep_dates(acme.tenant, now=noon(acme, ends - dt.timedelta(days=20)))
        # The other partner has no admin of ours: it is marked, nobody is told.
        assert result.expiry_warnings == 2
        (note,) = notes("mdf.expiry_warning")
        assert "2,000.00" in note.title


# --- Beat ---------------------------------------------------------------------------------


def test_the_dispatch_sweeps_only_tenants_with_a_decision_due(acme, globex):
    with acme.scope():
        req = b.submitted(acme, b.allocation(acme))
    with globex.scope():
        b.allocation(globex)
    with time_machine.travel(req.next_check_at - dt.timedelta(minutes=1), tick=False):
        assert tasks.dispatch_decision_sweeps() == 0
    with time_machine.travel(req.next_check_at, tick=False):
        assert tasks.dispatch_decision_sweeps() == 1
    with acme.scope():
        assert len(notes("mdf.reminder")) == 1
    with globex.scope():
        assert notes("mdf.reminder") == []
    # Reminded: nothing is due until the deadline.
    with time_machine.travel(req.due_at - dt.timedelta(minutes=1), tick=False):
        assert tasks.dispatch_decision_sweeps() == 0


def test_a_claim_due_is_dispatched_too(acme):
    with acme.scope():
        req = b.approved(acme, b.allocation(acme))
        claim = b.submitted_claim(acme, req)
        assert FundRequest.objects.filter(next_check_at__isnull=False).count() == 0
    with time_machine.travel(claim.next_check_at, tick=False):
        assert tasks.dispatch_decision_sweeps() == 1
    with acme.scope():
        assert Claim.objects.get(pk=claim.pk).reminded_at is not None


def test_the_hourly_funds_sweep_runs_the_date_sweep(acme):
    with acme.scope():
        alloc = b.allocation(acme, D("1000"))
        ends = alloc.budget.ends_on
    with time_machine.travel(noon(acme, ends - dt.timedelta(days=6)), tick=False):
        result = tasks.sweep_funds(tenant_id=str(acme.tenant.pk))
    assert result["expiry_warnings"] == 1 and result["expired"] == 0


def test_the_beat_entry_is_declared_for_the_lead():
    entry = deadlines.BEAT["mdf-decisions"]
    assert entry["task"] == "mdf.tasks.dispatch_decision_sweeps" and entry["schedule"] == 60.0
    assert tasks.dispatch_decision_sweeps.name == entry["task"]
