"""Market development funds' demo data, written by this app's services with
``now=`` at the moment each step happened, in the order it happened.

Two fund types: "MDF" (allocated per fiscal quarter, 50 % of an activity's
cost, claims within 60 days, requests 14 days ahead, an invoice required,
a second approval above 10,000) and "Co-op" (2 % of each won deal accrues
to the partner over the fiscal year, 50 % reimbursed, claims within 90
days). Budgets for every fiscal quarter from the one the demo's history
starts in to the next one, and the co-op year; ops allocated each past and
the current quarter by rule (per tier) when planning them, topped the first
partner up by hand, moved a quiet partner's unspent money to a busier one,
and allocated the next quarter by hand. The quarters before the current one
have other partners' activities, claims, payout runs and sourced deals
(``demo_history``), so every MDF figure has a value in each quarter.

The first partner (the demo partner admin's, Northwind) has an activity in
every state: a draft; one awaiting its channel manager with the deadline
close; one sent back for information; a large one awaiting its second
approval (ops or finance); one approved and ahead; one whose claim window
closes within the week; one rejected, one cancelled, one whose window closed
unclaimed; claims awaiting finance (one of them with the same invoice as
another partner's claim, so the duplicate flag shows), sent back for
information, rejected, approved and not yet paid, and approved and paid by
a payout run (so the partner's statement shows it). Its funded activities
name won deal registrations (ROI) and carry leads. Finally the sweeps run
as beat would have: reminders, window and expiry warnings, release, expiry.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile

from dealreg.models import DealRegistration
from partners.models import Partner
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import at
from prm.tenancy.models import Membership

from . import claims, deadlines, funds, requests
from .demo_history import History, free_day, reissue_statements, source
from .demo_year import D, Story, business_day, pdf
from .models import (
    ActivityLead,
    ActivityType,
    Allocation,
    Budget,
    Document,
    FundType,
    MdfSettings,
    SourcedDeal,
)

# For the lead: ``PRMApp(demo=DEMO, demo_after=DEMO_AFTER)`` in mdf/declare.py.
DEMO = "mdf.demo.seed"
DEMO_AFTER = ("partners", "dealreg", "incentives")

# The next quarter's allocations, by hand: the first few active partners.
NEXT_QUARTER = [D("25000"), D("12000"), D("8000")]
COOP_BUDGET = D("250000")
# The invoice two partners claim (the duplicate flag).
DUPLICATE = ("Metro Expo Center", "MEC-7781")


def seed(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    MdfSettings.for_tenant(tenant)
    if FundType.objects.exists():
        return
    story = Story(ctx)
    mdf, coop = story.fund_types()
    last, current = story.budget(mdf, "quarter", -1), story.budget(mdf, "quarter", 0)
    following = story.budget(mdf, "quarter", 1)
    coop_year = story.budget(coop, "year")
    funds.set_budget_amount(coop_year, COOP_BUDGET, by=story.ops, reason="The year's co-op pool.")
    _money_in(story, last, current, following)
    history = History(story, mdf)
    history.plan(last)
    _activities(story)
    _coop(story, coop_year)
    story.play()
    _sourced(story)
    source(history)
    reissue_statements(story)
    # What beat would have done by now: warnings, releases, expiry, reminders.
    deadlines.sweep_dates(tenant, now=story.now)
    deadlines.sweep_decisions(tenant, now=story.now)
    ctx.objects["mdf.requests"] = story.requests
    ctx.objects["mdf.claims"] = story.claims


def _money_in(story: Story, last: Budget, current: Budget, following: Budget) -> None:
    planned = story.when(-130, 9)
    # Planned well before the last quarter ended (a quarter lasts ~91 days).
    planned = min(planned, at(story.tenant, last.starts_on - timedelta(days=10), 9))
    story.push(planned, lambda now: story.by_rule(last, now))
    story.push(planned + timedelta(hours=1), lambda now: story.by_rule(current, now))

    def move(now: datetime) -> None:
        quiet = (
            Allocation.objects.filter(budget=current, reserved=0, claimed=0)
            .exclude(partner=story.first)
            .select_related("partner", "budget")
            .order_by("partner__name")
        )
        source = next((a for a in quiet if a.available >= D("4000")), None)
        if source is None:
            return
        funds.move_funds(
            source,
            story.first,
            D("4000"),
            by=story.ops,
            reason=f"{source.partner.name} has no activity planned this quarter; Northwind's "
            "roadshow is oversubscribed.",
            now=now,
        )

    story.later(-9, move, 15)

    def by_hand(now: datetime) -> None:
        others = Partner.objects.filter(status=Partner.Status.ACTIVE).exclude(pk=story.first.pk)
        active = [story.first, *others.order_by("name")[: len(NEXT_QUARTER) - 1]]
        funds.set_budget_amount(
            following, sum(NEXT_QUARTER, D("0")) * 2, by=story.ops, reason="Next quarter's plan."
        )
        for partner, amount in zip(active, NEXT_QUARTER, strict=False):
            if not funds.partner_fits(following, partner):
                funds.allocate(
                    following, partner, amount, by=story.ops, reason="Next quarter's plan.", now=now
                )

    story.later(-35, by_hand, 9)


E, W, T = ActivityType.EVENT, ActivityType.WEBINAR, ActivityType.TRAINING
# The first partner's activities: key, title, type, starts and submitted
# (days from today), cost, amount asked for.
# fmt: off
ACTIVITIES = [
    ("paid", "Spring security summit", E, -75, -100, "12000", "6000"),
    ("unclaimed", "Partner golf day", E, -85, -110, "5000", "2500"),
    ("approved_claim", "Zero-trust webinar series", W, -30, -55, "6000", "3000"),
    ("rejected_claim", "Trade show booth, CyberExpo", ActivityType.TRADE_SHOW, -40, -65, "9000",
     "4500"),
    ("claim_info", "Telemarketing sprint", ActivityType.TELEMARKETING, -35, -60, "4000", "2000"),
    ("claim_pending", "Regional roadshow", E, -25, -50, "8000", "4000"),
    ("closing", "Customer appreciation evening", E, -55, -80, "3000", "1500"),
    ("ahead", "Cloud security workshop", T, 20, -10, "7000", "3500"),
    ("rejected", "Branded merchandise", ActivityType.OTHER, 30, -20, "3000", "1500"),
    ("cancelled", "Lunch and learn", T, 25, -25, "2000", "1000"),
    ("more_info", "Digital campaign: SASE", ActivityType.DIGITAL, 40, -6, "10000", "5000"),
    ("second", "Partner summit sponsorship", E, 45, -4, "26000", "12000"),
    ("pending", "Content syndication: ransomware guide", ActivityType.SYNDICATION, 35, None,
     "6000", "3000"),
    ("draft", "Webinar: firewall migration", W, 50, 0, "4000", "2000"),
]
# Their claims: key, submitted (days from today), actual cost, claimed, supplier, invoice.
CLAIMS = [
    ("paid", -68, "11600", "5800", "Harbor Conference Hall", "HCH-2041"),
    ("approved_claim", -20, "5400", "2700", "StreamCast Media", "SC-55120"),
    ("rejected_claim", -30, "9000", "4500", "CyberExpo GmbH", "CX-2290"),
    ("claim_info", -15, "4000", "2000", "CallPoint Ltd", "CP-3310"),
    ("claim_pending", -6, "8000", "4000", *DUPLICATE),
]
# fmt: on


def _activities(s: Story) -> None:
    """The first partner's activities, and what happened to each."""
    for key, title, kind, start, submitted, cost, amount in ACTIVITIES:
        s.activity(
            key,
            title,
            kind=kind,
            start=start,
            submitted=_days_before_due(s) if submitted is None else submitted,
            cost=cost,
            amount=amount,
            submit=key != "draft",
        )
    for key, days in (("paid", -98), ("unclaimed", -108), ("approved_claim", -54),
                      ("rejected_claim", -63), ("claim_info", -58), ("claim_pending", -48),
                      ("closing", -78), ("cancelled", -23), ("second", -3)):  # fmt: skip
        s.approve(key, days)
    s.approve("ahead", -8, amount="3000")
    for key, days, cost, amount, supplier, number in CLAIMS:
        s.claim(key, days, cost=cost, amount=amount, supplier=supplier, number=number)
    s.finance_does("paid", -64, "approve")
    s.pay_at(free_day(s.tenant, business_day(s.today - timedelta(days=62), 0)))
    s.finance_does("approved_claim", -3, "approve")
    s.finance_does(
        "rejected_claim",
        -25,
        "reject",
        reason="The invoice is for last year's show; attach this year's invoice.",
    )
    s.finance_does("claim_info", -12, "ask", message="Please attach the call list with outcomes.")
    _other_partner_duplicate(s)
    s.later(-23, lambda now: requests.release_unclaimed(s.tenant, now=now), 1)
    s.later(-40, lambda now: _leads(s, "paid", now), 12)

    def reject(now: datetime) -> None:
        request = s.requests["rejected"]
        reason = "Merchandise is not a marketing activity MDF pays for."
        requests.reject_request(request, by=s.decider(request), reason=reason, now=now)

    def cancel(now: datetime) -> None:
        request = s.requests["cancelled"]
        requests.cancel_request(request, by=s.admin, reason="The customer postponed.", now=now)

    def ask(now: datetime) -> None:
        request = s.requests["more_info"]
        message = "Which channels, and how will leads be tracked?"
        requests.request_info(request, by=s.decider(request), message=message, now=now)

    s.later(-18, reject)
    s.later(-15, cancel)
    s.later(-5, ask)


def _days_before_due(s: Story) -> int:
    """Submitted one business day less than the decision takes ago: due
    about a business day from now."""
    days = MdfSettings.for_tenant(s.tenant).request_decision_days
    back = counted = 0
    while counted < days - 1:
        back += 1
        if (s.today - timedelta(days=back)).weekday() < 5:
            counted += 1
    return -max(back, 1)


def _other_partner_duplicate(s: Story) -> None:
    """Another active partner claims an activity with the same invoice as
    the first partner's pending claim (the largest other allocation of
    the activity's quarter draws it)."""
    starts_on = s.today - timedelta(days=22)
    people: list[Membership] = []

    def run(now: datetime) -> None:
        allocation = (
            Allocation.objects.select_related("budget", "partner")
            .filter(
                budget__fund_type__name="MDF",
                budget__starts_on__lte=starts_on,
                budget__ends_on__gte=starts_on,
                partner__status=Partner.Status.ACTIVE,
            )
            .exclude(partner=s.first)
            .order_by("-amount", "partner__name")
            .first()
        )
        if allocation is None:
            return
        member = s.sales(allocation.partner)
        people.append(member)
        data = requests.RequestData(
            allocation=allocation,
            activity_type=ActivityType.EVENT,
            title="Regional roadshow (co-hosted)",
            starts_on=starts_on,
            ends_on=starts_on,
            description="Co-hosted roadshow stop.",
            requested_amount=D("1500"),
            cost_lines=[("Venue share", D("3000"))],
        )
        request = requests.save_request(data, by=member, submit=True, now=now)
        request = requests.approve_request(
            request, by=s.decider(request), now=now + timedelta(hours=3)
        )
        s.requests["other"] = request

    def claim(now: datetime) -> None:
        if not people:
            return
        data = claims.ClaimData(
            invoice_number=DUPLICATE[1].replace("-", " "),
            invoice_date=starts_on,
            supplier=DUPLICATE[0].upper(),
            claimed_amount=D("1500"),
            lines=[("Venue share", D("3000"))],
            attendees=60,
            files=[
                (
                    Document.INVOICE,
                    SimpleUploadedFile(
                        "invoice.pdf", pdf(f"{DUPLICATE[0]} {DUPLICATE[1]}"), "application/pdf"
                    ),
                )
            ],
        )
        s.claims["duplicate"] = claims.save_claim(
            s.requests["other"], data, by=people[0], submit=True, now=now
        )

    s.later(-40, run, 10)
    s.later(-2, claim, 15)


def _leads(s: Story, key: str, now: datetime) -> None:
    request = s.requests[key]
    names = ["Ava Brooks", "Liam Chen", "Maya Patel", "Noah Weber", "Zoe Martin", "Omar Haddad"]
    ActivityLead.objects.bulk_create(
        ActivityLead(
            tenant=s.tenant,
            request=request,
            name=name,
            email=f"{name.split()[0].lower()}@customer{n + 1}.example",
            company=f"Customer {n + 1}",
            uploaded_by=s.user.user,
            uploaded_at=now,
        )
        for n, name in enumerate(names)
    )


def _coop(s: Story, budget: Budget) -> None:
    """Every deal won in the co-op year accrues its 2 %, as the win's task
    would have done minutes after it was recorded."""
    won = DealRegistration.objects.filter(
        status=DealRegistration.Status.WON,
        won_close_date__range=(budget.starts_on, budget.ends_on),
        outcome_recorded_at__lt=s.now,
    ).order_by("outcome_recorded_at")
    for deal in won:
        assert deal.outcome_recorded_at is not None
        moment = deal.outcome_recorded_at + timedelta(minutes=2)
        s.push(moment, _sync_coop(deal))


def _sync_coop(deal: DealRegistration) -> Callable[[datetime], object]:
    return lambda now: funds.sync_coop(deal, now=now)


def _sourced(s: Story) -> None:
    """The funded activities name the deals they sourced: the first
    partner's latest won registrations (and an open one)."""
    funded = [s.requests[k] for k in ("paid", "approved_claim", "claim_pending") if k in s.requests]
    ours = DealRegistration.objects.filter(partner=s.first).exclude(
        pk__in=SourcedDeal.objects.values("registration_id")
    )
    won = list(
        ours.filter(status=DealRegistration.Status.WON).order_by("-won_close_date", "-pk")[:5]
    )
    open_ = list(ours.filter(status=DealRegistration.Status.APPROVED).order_by("-pk")[:2])
    picks = [won[0:3], won[3:5] + open_[0:1], open_[1:2]]
    for request, deals in zip(funded, picks, strict=False):
        SourcedDeal.objects.bulk_create(
            SourcedDeal(
                tenant=s.tenant, registration=deal, request=request, created_at=request.created_at
            )
            for deal in deals
        )
