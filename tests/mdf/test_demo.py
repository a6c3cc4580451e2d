"""MDF's demo step on a fresh tenant (after the partner directory, deal
registration and incentives, as seed_demo runs them), on a fixed day: an
activity and a claim in every state, the duplicate invoice flagged, a
reimbursement paid by a payout run, sourced won deals for the ROI, counters
within their allocations, funds for the demo partner admin to request and a
claim for finance to review."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Sum

from incentives.models import PayoutRun, Settlement
from mdf import demo
from mdf.models import (
    ActivityLead,
    Allocation,
    AllocationChange,
    Budget,
    Claim,
    CoopAccrual,
    FundRequest,
    FundType,
    Reimbursement,
    SourcedDeal,
)
from prm.tenancy import registry
from prm.tenancy.demo import HISTORY_DAYS, tenant_context
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


@pytest.fixture
def seeded(acme):
    """acme with the demo steps MDF runs after, then MDF's, on DAY, with a
    fifth of the year's history."""
    with time_machine.travel(DAY), acme.scope():
        ctx = tenant_context(acme.tenant, scale=0.2)
        steps = dict(registry.demo_steps())
        for label in demo.DEMO_AFTER:
            steps[label](ctx)
        started = time.monotonic()
        demo.seed(ctx)
        seconds = time.monotonic() - started
        yield acme, ctx, seconds


def test_the_mdf_demo(seeded):
    world, ctx, seconds = seeded
    # At this scale the step takes 2-5 s; the bound catches work that grows
    # with the data (a query per row), not a slow or busy machine.
    assert seconds < 30, f"the MDF demo step took {seconds:.1f} s"
    with world.scope():
        today = world.tenant.local_today()
        assert set(FundType.objects.values_list("name", flat=True)) == {"MDF", "Co-op"}
        # A budget a quarter from the one the history starts in to the next
        # one; before the current quarter, other partners' claims approved.
        budgets = Budget.objects.filter(fund_type__name="MDF").order_by("starts_on")
        assert budgets.count() == 6
        assert budgets[0].starts_on <= today - timedelta(days=HISTORY_DAYS) <= budgets[0].ends_on
        admin = ctx.people[Role.PARTNER_ADMIN]
        for budget in budgets.filter(ends_on__lt=today):
            assert (
                Claim.objects.filter(request__allocation__budget=budget, status="approved")
                .exclude(partner=admin.partner)
                .exists()
            ), budget
        # Paid by an off-cycle run each past quarter, and the story's.
        paying = Settlement.objects.filter(entry__kind="reimbursement", paid_on__isnull=False)
        assert paying.values("run").distinct().count() >= 4
        assert Budget.objects.filter(fund_type__name="Co-op", span="year").count() == 1
        sources = set(Allocation.objects.values_list("source", flat=True))
        assert {"rule", "manual", "accrual"} <= sources
        moved = AllocationChange.objects.filter(kind="moved_out").first()
        assert moved is not None and moved.reason
        assert CoopAccrual.objects.filter(amount__gt=0).exists()

        statuses = set(FundRequest.objects.values_list("status", flat=True))
        assert set(FundRequest.Status.values) <= statuses
        assert FundRequest.objects.filter(
            status="submitted", first_approved_by__isnull=False
        ).exists()
        pending = FundRequest.objects.filter(status="submitted", first_approved_by__isnull=True)
        assert pending.exists()
        assert all(r.due_at is not None and r.due_at > DAY for r in pending)
        closing = FundRequest.objects.filter(
            status="approved", claim_deadline__range=(today, today + timedelta(days=7))
        )
        assert closing.exists()
        claim_statuses = set(Claim.objects.values_list("status", flat=True))
        assert {"submitted", "more_info_requested", "approved", "rejected"} <= claim_statuses

        # The duplicate invoice is flagged, naming the other claim.
        flagged = [c for c in Claim.objects.filter(status="submitted") if c.duplicate_of]
        assert flagged
        codes = set(Claim.objects.values_list("code", flat=True))
        assert all(set(c.duplicate_of) <= codes for c in flagged)
        same = Claim.objects.filter(supplier_normalized="metro expo center")
        assert len({c.partner_id for c in same}) == 2

        # One reimbursement paid by a paid payout run, another approved and not yet paid.
        paid = [
            r
            for r in Reimbursement.objects.select_related("entry__settlement__run")
            if getattr(r.entry, "settlement", None) is not None
        ]
        assert paid and paid[0].entry.settlement.run.status == PayoutRun.Status.PAID
        assert paid[0].entry.settlement.paid_on is not None
        assert Reimbursement.objects.count() > len(paid)

        # The funded activities sourced won deals: the ROI has revenue.
        won = SourcedDeal.objects.filter(
            registration__status="won", request__claims__status="approved"
        ).aggregate(total=Sum("registration__won_amount"))["total"]
        assert won and won > 0
        assert ActivityLead.objects.exists()

        # The counters: within the amount, and the sums of what they count.
        for allocation in Allocation.objects.all():
            used = allocation.reserved + allocation.claimed + allocation.expired
            assert used <= allocation.amount
            reserved = FundRequest.objects.filter(allocation=allocation).aggregate(
                t=Sum("reserved")
            )["t"] or Decimal(0)
            claimed = Reimbursement.objects.filter(claim__request__allocation=allocation).aggregate(
                t=Sum("amount")
            )["t"] or Decimal(0)
            assert (allocation.reserved, allocation.claimed) == (reserved, claimed), allocation
        for budget in Budget.objects.all():
            assert budget.allocated <= budget.amount

        # The demo partner admin has funds to request from; finance a claim to review.
        admin = ctx.people[Role.PARTNER_ADMIN]
        open_funds = [
            a
            for a in Allocation.objects.filter(
                partner=admin.partner, budget__fund_type__name="MDF", budget__ends_on__gte=today
            )
            if a.available > 0
        ]
        assert open_funds
        finance = ctx.users[Role.FINANCE]
        assert Notification.objects.filter(user=finance, kind="mdf.claim_submitted").exists()
        assert Claim.objects.filter(status="submitted", partner=admin.partner).exists()

        # Safe to run again.
        counts = (FundRequest.objects.count(), Claim.objects.count(), Allocation.objects.count())
        demo.seed(ctx)
        assert counts == (
            FundRequest.objects.count(),
            Claim.objects.count(),
            Allocation.objects.count(),
        )
