"""Market development funds' demo data, written by this app's services with
``now=`` at the moment each step happened, in the order it happened.

Two fund types: "MDF" (allocated per fiscal quarter, 50 % of an activity's
cost, claims within 60 days, requests 14 days ahead, an invoice required,
a second approval above 10,000) and "Co-op" (2 % of each won deal accrues
to the partner over the fiscal year, 50 % reimbursed, claims within 90
days). Budgets for the last, the current and the next fiscal quarter and
the co-op year; ops allocated the last two quarters by rule (per tier) when
planning them, topped the first partner up by hand, moved a quiet partner's
unspent money to a busier one, and allocated the next quarter by hand.

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

import heapq
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dealreg.models import DealRegistration
from incentives import payouts
from incentives.demo_year import finance_people
from partners.models import Partner, Tier
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import Past, at, demo_member, demo_user
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import Role

from . import claims, deadlines, funds, periods, requests
from .models import (
    ActivityLead,
    ActivityType,
    Allocation,
    Budget,
    Claim,
    Document,
    FundRequest,
    FundType,
    MdfSettings,
    SourcedDeal,
)

# For the lead: ``PRMApp(demo=DEMO, demo_after=DEMO_AFTER)`` in mdf/declare.py.
DEMO = "mdf.demo.seed"
DEMO_AFTER = ("partners", "dealreg", "incentives")

D = Decimal
# What each tier gets of a quarter's MDF budget (by tier rank).
PER_TIER = {3: D("20000"), 2: D("10000"), 1: D("4000")}
# The first partner's extra for its launch campaign, by hand, each quarter.
TOP_UP = D("15000")
# The next quarter's allocations, by hand: the first few active partners.
NEXT_QUARTER = [D("25000"), D("12000"), D("8000")]
COOP_BUDGET = D("250000")
# The invoice two partners claim (the duplicate flag).
DUPLICATE = ("Metro Expo Center", "MEC-7781")


def pdf(text: str) -> bytes:
    """A tiny valid one-page PDF showing ``text`` (a proof of the demo)."""
    text = text.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _quarter(tenant: Tenant, today: date, shift: int) -> tuple[int, int]:
    year, number = periods.period_of(tenant, "quarter", today)
    index = year * 4 + number - 1 + shift
    return index // 4, index % 4 + 1


class Story:
    """The MDF year of one demo tenant, played in time order."""

    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx
        self.tenant = ctx.tenant
        self.now = timezone.now()
        self.today = self.tenant.local_today(self.now)
        self.past = Past(self.tenant)
        self.ops = ctx.people[Role.OPS_ADMIN]
        self.finance, self.checker = finance_people(ctx)
        self.user = ctx.people[Role.PARTNER_USER]
        self.admin = ctx.people[Role.PARTNER_ADMIN]
        self.first: Partner = self.user.partner
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.pushed = 0
        self.requests: dict[str, FundRequest] = {}
        self.claims: dict[str, Claim] = {}
        self.allocations: list[Allocation] = []

    # --- time -------------------------------------------------------------------------

    def when(self, days: int, hour: float = 10.0) -> datetime:
        """``hour`` o'clock ``days`` from today (negative: ago), local time."""
        moment = at(self.tenant, self.today + timedelta(days=days), hour)
        return min(moment, self.now - timedelta(minutes=5))

    def push(self, moment: datetime, action: Callable[[datetime], Any]) -> None:
        def run() -> None:
            with self.past.at(moment):
                action(moment)

        heapq.heappush(self.queue, (moment, self.pushed, run))
        self.pushed += 1

    def play(self) -> None:
        while self.queue:
            _, _, action = heapq.heappop(self.queue)
            action()
        self.past.settle()

    # --- people -----------------------------------------------------------------------

    def decider(self, request: FundRequest) -> Membership:
        """The partner's channel manager when they may decide it, else ops."""
        if request.approver_id is not None:
            member = Membership.objects.filter(
                user_id=request.approver_id, role=Role.CHANNEL_MANAGER, is_active=True
            ).first()
            if member is not None and requests.can_decide(member, request):
                return member
        return self.ops

    def sales(self, partner: Partner) -> Membership:
        return demo_member(
            self.tenant,
            demo_user(f"sales@{partner.domain}", f"{partner.name} Sales"),
            Role.PARTNER_USER,
            partner=partner,
        )

    # --- money in ---------------------------------------------------------------------

    def fund_types(self) -> tuple[FundType, FundType]:
        every = [a.value for a in ActivityType]
        mdf = FundType.objects.create(
            tenant=self.tenant,
            name="MDF",
            description="Quarterly market development funds for Silver and Gold partners.",
            funding=FundType.Funding.ALLOCATED,
            reimbursement_percent=D("50"),
            claim_window_days=60,
            request_lead_days=14,
            activity_types=every,
            required_documents=[Document.INVOICE],
            second_approval_above=D("10000"),
        )
        coop = FundType.objects.create(
            tenant=self.tenant,
            name="Co-op",
            description="2 % of every won deal, to spend on joint marketing within the year.",
            funding=FundType.Funding.ACCRUAL,
            accrual_percent=D("2"),
            reimbursement_percent=D("50"),
            claim_window_days=90,
            request_lead_days=14,
            activity_types=[
                ActivityType.EVENT,
                ActivityType.DIGITAL,
                ActivityType.SYNDICATION,
                ActivityType.TELEMARKETING,
            ],
            required_documents=[Document.INVOICE],
        )
        return mdf, coop

    def budget(self, fund: FundType, span: str, shift: int = 0) -> Budget:
        year, number = (
            _quarter(self.tenant, self.today, shift)
            if span == "quarter"
            else periods.period_of(self.tenant, span, self.today)
        )
        return funds.create_budget(
            self.tenant,
            by=self.ops,
            fund_type=fund,
            span=span,
            fiscal_year=year,
            number=number,
            amount=D("0"),
        )

    def by_rule(self, budget: Budget, moment: datetime) -> None:
        """Ops size the quarter's budget to the per-tier rule (and a
        reserve for top-ups), then apply the rule."""
        plan = funds.plan_per_tier(
            budget, {t.pk: PER_TIER[t.rank] for t in Tier.objects.all() if t.rank in PER_TIER}
        )
        funds.set_budget_amount(
            budget,
            plan.total + TOP_UP * 2,
            by=self.ops,
            reason="Quarterly plan: the per-tier allocation and a reserve for campaigns.",
        )
        self.allocations += funds.apply_plan(
            budget, plan, by=self.ops, reason="Per tier (quarterly plan).", now=moment
        )
        funds.allocate(
            budget,
            self.first,
            TOP_UP,
            by=self.ops,
            reason="Launch campaign for the new firewall line.",
            now=moment + timedelta(minutes=10),
        )

    def allocation(self, day: date) -> Allocation:
        """The first partner's MDF allocation whose period holds ``day``."""
        return Allocation.objects.select_related("budget__fund_type").get(
            partner=self.first,
            budget__fund_type__name="MDF",
            budget__starts_on__lte=day,
            budget__ends_on__gte=day,
        )

    # --- activities -------------------------------------------------------------------

    def activity(
        self,
        key: str,
        title: str,
        *,
        start: int,
        submitted: int,
        cost: str,
        amount: str,
        kind: str = ActivityType.EVENT,
        length: int = 1,
        then: Callable[[FundRequest], None] | None = None,
        submit: bool = True,
    ) -> None:
        """An activity of the first partner starting ``start`` days from
        today, submitted ``submitted`` days from today; ``then`` plans what
        happened next."""
        starts_on = self.today + timedelta(days=start)
        moment = self.when(submitted, 11)

        def run(now: datetime) -> None:
            data = requests.RequestData(
                allocation=self.allocation(starts_on),
                activity_type=kind,
                title=title,
                starts_on=starts_on,
                ends_on=starts_on + timedelta(days=length - 1),
                description=f"{title}: Northwind's customers and prospects in the region.",
                requested_amount=D(amount),
                cost_lines=[
                    ("Venue, platform and promotion", D(cost) * D("0.7")),
                    ("Catering, content and follow-up", D(cost) * D("0.3")),
                ],
                audience="IT and security managers",
                expected_reach=150,
                expected_leads=30,
                expected_pipeline=D(amount) * 20,
            )
            request = requests.save_request(
                data, by=self.user, client_token=uuid.uuid4(), submit=submit, now=now
            )
            self.requests[key] = request
            if then is not None:
                then(request)

        self.push(moment, run)

    def later(self, days: int, action: Callable[[datetime], Any], hour: float = 10.0) -> None:
        self.push(self.when(days, hour), action)

    def approve(self, key: str, days: int, amount: str | None = None) -> None:
        def run(now: datetime) -> None:
            request = self.requests[key]
            reason = "Approved in part: the catering is not covered." if amount else ""
            self.requests[key] = requests.approve_request(
                request,
                by=self.decider(request),
                amount=D(amount) if amount else None,
                reason=reason,
                now=now,
            )

        self.later(days, run, 14)

    def claim(
        self,
        key: str,
        days: int,
        *,
        cost: str,
        amount: str,
        supplier: str,
        number: str,
        by: Membership | None = None,
    ) -> None:
        def run(now: datetime) -> None:
            request = self.requests[key]
            data = claims.ClaimData(
                invoice_number=number,
                invoice_date=request.ends_on,
                supplier=supplier,
                claimed_amount=D(amount),
                lines=[
                    ("Venue and promotion", D(cost) * D("0.7")),
                    ("Catering", D(cost) * D("0.3")),
                ],
                leads=28,
                attendees=140,
                opportunities=5,
                results="140 attended; 28 qualified leads passed to sales.",
                files=[
                    (
                        Document.INVOICE,
                        SimpleUploadedFile(
                            f"{number}.pdf",
                            pdf(f"{supplier} invoice {number}"),
                            content_type="application/pdf",
                        ),
                    )
                ],
            )
            self.claims[key] = claims.save_claim(
                request,
                data,
                by=by or self.user,
                client_token=uuid.uuid4(),
                submit=True,
                now=now,
            )

        self.later(days, run, 16)

    def finance_does(self, key: str, days: int, action: str, **kw: Any) -> None:
        def run(now: datetime) -> None:
            claim = self.claims[key]
            service = {
                "approve": claims.approve_claim,
                "reject": claims.reject_claim,
                "ask": claims.request_claim_info,
            }[action]
            self.claims[key] = service(claim, by=self.finance, now=now, **kw)

        self.later(days, run, 11)

    def pay(self, days: int) -> None:
        """An off-cycle payout run started ``days`` from today (cutoff that
        day), approved by the second finance person the next day, paid two
        days after: the reimbursements approved so far reach the partner's
        statement."""
        runs: list[Any] = []

        def start(now: datetime) -> None:
            if payouts.open_run() is not None:
                return  # this month's run waits for its approval: paid with the next
            cutoff = self.tenant.local_today(now)
            run = payouts.start_run(self.tenant, by=self.finance, cutoff=cutoff, now=now)
            run = payouts.compute_run(run, now=now + timedelta(minutes=1))
            if run.lines.filter(status="ready").exists():
                runs.append(run)
            else:
                payouts.cancel(run, by=self.finance, reason="Nothing to pay.")

        def approve(now: datetime) -> None:
            if runs:
                run = payouts.approve(runs[0], by=self.checker, now=now)
                runs[0] = payouts.write_payouts(run, now=now + timedelta(minutes=1))

        def paid(now: datetime) -> None:
            if runs:
                payouts.mark_paid(
                    runs[0],
                    by=self.finance,
                    reference=f"ACH-MDF-{runs[0].cutoff:%Y%m%d}",
                    paid_on=self.tenant.local_today(now),
                    now=now,
                )

        self.later(days, start, 9)
        self.later(days + 1, approve, 9.5)
        self.later(days + 3, paid, 15)


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
    _activities(story)
    _coop(story, coop_year)
    story.play()
    _sourced(story)
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
    s.pay(-62)
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
        s.push(moment, lambda now, deal=deal: funds.sync_coop(deal, now=now))


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
