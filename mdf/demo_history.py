"""MDF's year before the story of the last and the current quarter: what
the other partners did with their funds, quarter by quarter, back to the
start of the demo's history, so every MDF figure has a value in each
quarter of the year.

For each fiscal quarter from the one the history starts in: ops create its
budget and allocate it by the per-tier rule ten days before it starts (to
the partners in the program by then); a few partners with deals to show for
it (won registrations of the months after) ask for funds three weeks before
their activity, their channel manager approves in a day or three; after
the activity the partner claims with the invoice, and finance decides some
business days later: mostly approves (now and then less than claimed),
sometimes sends a claim back for information first, rejects one now and
then. Early in the quarter's last month finance pays the reimbursements
approved so far in an off-cycle payout run (started, approved by the
second finance person the next business day, marked paid when accounts
payable has sent the money, as slow as for the monthly runs), on a day no
monthly run is open. On the first of each month the date sweeps run as beat
would have (warnings, releases, expiry). The registrations those
activities sourced name them (ROI), and they carry the leads they brought.

The last quarter's budget is the story's (``demo``); its activities of
other partners are added here too. The first partner's activities are the
story's own.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count, Min, Q

from dealreg.models import DealRegistration
from incentives import statements
from incentives.models import LedgerEntry, PayoutRun, Statement
from partners.models import Partner
from prm.tenancy.demo import HISTORY_DAYS, at, backdate_audit

from . import claims, deadlines, funds, periods, requests
from .demo_year import _quarter, business_day, pdf
from .models import (
    ActivityLead,
    ActivityType,
    Allocation,
    Budget,
    Document,
    FundRequest,
    FundType,
    SourcedDeal,
)

D = Decimal
# Activities of other partners a quarter, at the demo's full history.
PER_QUARTER = 6
# Registrations an activity names at most (the ones won after it).
SOURCED = 3
# The months after an activity whose won registrations it may have sourced.
SOURCING_DAYS = 150
KINDS = [
    ("Customer security briefing", ActivityType.EVENT),
    ("Webinar: cloud firewall in practice", ActivityType.WEBINAR),
    ("Email and social campaign", ActivityType.DIGITAL),
    ("Hands-on workshop", ActivityType.TRAINING),
    ("Regional trade show stand", ActivityType.TRADE_SHOW),
    ("Appointment-setting sprint", ActivityType.TELEMARKETING),
    ("Whitepaper syndication", ActivityType.SYNDICATION),
]
SUPPLIERS = [
    "Lakeside Events",
    "BrightWave Digital",
    "Summit Venues",
    "PrintHouse & Co",
    "Northstar Media",
    "CallReach Services",
]
LEAD_NAMES = ["Iris Novak", "Tom Becker", "Lena Ortiz", "Raj Mehta", "Sara Kim", "Paul Girard"]
# What finance did with the n-th claim of a quarter (the others are approved).
REJECT_EVERY, ASK_EVERY, TRIM_EVERY = 7, 5, 4


class History:
    """The quarters before the story's, played by the story (``Story.push``)."""

    def __init__(self, story: Any, fund: FundType) -> None:
        self.story = story
        self.fund = fund
        self.tenant = story.tenant
        self.today: date = story.today
        self.start = self.today - timedelta(days=HISTORY_DAYS)
        self.per_quarter = max(2, round(PER_QUARTER * story.ctx.history))
        self.activities: list[FundRequest] = []
        self.claimed = 0

    # --- planning -----------------------------------------------------------------------

    def quarters(self) -> list[int]:
        """Shifts (from the current quarter) of the quarters from the one the
        history starts in to the last one."""
        first = periods.period_of(self.tenant, "quarter", self.start)
        now = periods.period_of(self.tenant, "quarter", self.today)
        back = (now[0] * 4 + now[1]) - (first[0] * 4 + first[1])
        return list(range(-back, 0))

    def plan(self, last: Budget) -> None:
        """Push the history's steps: each quarter's budget (the last
        quarter's is ``last``, allocated by the story), its activities and
        payout run, and the monthly sweeps."""
        for shift in self.quarters():
            if shift == -1:
                moment = self.planned(last.starts_on) + timedelta(hours=2)
                self.push(moment, lambda now, b=last: self.activities_of(b, now))
            else:
                self.push(self.planned(self.dates(shift)[0]), self.new_quarter(shift))
            self.payout(self.dates(shift)[1])
        first = self.dates(self.quarters()[0])[0] if self.quarters() else self.today
        month = date(first.year, first.month, 1) + timedelta(days=32)
        month = month.replace(day=1)
        while month < self.today:
            self.push(
                at(self.tenant, month, 5),
                lambda now: deadlines.sweep_dates(self.tenant, now=now),
            )
            month = (month + timedelta(days=32)).replace(day=1)

    def dates(self, shift: int) -> tuple[date, date]:
        year, number = _quarter(self.tenant, self.today, shift)
        return periods.period_dates(self.tenant, "quarter", year, number)

    def planned(self, starts_on: date) -> datetime:
        """Ops plan a quarter ten days before it starts."""
        return at(self.tenant, starts_on - timedelta(days=10), 9)

    def push(self, moment: datetime, action: Any) -> None:
        """Only what happened before now."""
        if moment < self.story.now - timedelta(minutes=5):
            self.story.push(moment, action)

    def new_quarter(self, shift: int) -> Any:
        def run(now: datetime) -> None:
            year, number = _quarter(self.tenant, self.today, shift)
            budget = funds.create_budget(
                self.tenant,
                by=self.story.ops,
                fund_type=self.fund,
                span="quarter",
                fiscal_year=year,
                number=number,
                amount=D("0"),
            )
            self.story.by_rule(budget, now)
            # The budget's own steps take no ``now=``: dated when ops made them.
            Budget.objects.filter(pk=budget.pk).update(created_at=now)
            backdate_audit(self.tenant, budget, [now, now])
            self.activities_of(budget, now)

        return run

    # --- activities ---------------------------------------------------------------------

    def activities_of(self, budget: Budget, now: datetime) -> None:
        """The quarter's activities: the partners with the most deals won
        after it (what their activities sourced), other than the story's."""
        after = at(self.tenant, budget.starts_on, 0)
        until = at(self.tenant, budget.ends_on + timedelta(days=SOURCING_DAYS), 0)
        allocations = list(
            Allocation.objects.filter(budget=budget, partner__status=Partner.Status.ACTIVE)
            .exclude(partner=self.story.first)
            .select_related("partner", "budget__fund_type")
            .annotate(
                wins=Count(
                    "partner__registrations",
                    filter=Q(
                        partner__registrations__status=DealRegistration.Status.WON,
                        partner__registrations__submitted_at__gte=after,
                        partner__registrations__submitted_at__lt=until,
                    ),
                )
            )
            .order_by("-wins", "partner__name")[: self.per_quarter]
        )
        length = (budget.ends_on - budget.starts_on).days
        for n, allocation in enumerate(allocations):
            # Spread over the quarter: from two weeks in to a week before its end.
            offset = 14 + (length - 21) * n // max(len(allocations) - 1, 1)
            starts_on = budget.starts_on + timedelta(days=offset)
            self.activity(allocation, starts_on, n)

    def activity(self, allocation: Allocation, starts_on: date, n: int) -> None:
        story = self.story
        title, kind = KINDS[(n + allocation.budget.number) % len(KINDS)]
        amount = min(
            (allocation.amount * D("0.6")).quantize(D("100")),
            D("9000"),
        )
        cost = amount * 2
        submitted = at(self.tenant, starts_on - timedelta(days=21 + n % 4), 10 + n % 5)
        member = story.sales(allocation.partner)

        def ask(now: datetime) -> None:
            data = requests.RequestData(
                allocation=allocation,
                activity_type=kind,
                title=title,
                starts_on=starts_on,
                ends_on=starts_on,
                description=f"{title} for {allocation.partner.name}'s customers and prospects.",
                requested_amount=amount,
                cost_lines=[
                    ("Venue, platform and promotion", cost * D("0.7")),
                    ("Catering, content and follow-up", cost * D("0.3")),
                ],
                audience="IT and security managers",
                expected_reach=80 + 20 * n,
                expected_leads=10 + 3 * n,
                expected_pipeline=amount * 15,
            )
            request = requests.save_request(
                data, by=member, client_token=uuid.uuid4(), submit=True, now=now
            )
            decided = at(self.tenant, business_day(self.tenant.local_today(now), 1 + n % 3), 14)
            self.push(decided, lambda now: self.approve(request, member, n, now))

        self.push(submitted, ask)

    def approve(self, request: FundRequest, member: Any, n: int, now: datetime) -> None:
        request = requests.approve_request(request, by=self.story.decider(request), now=now)
        self.activities.append(request)
        claimed = at(self.tenant, request.ends_on + timedelta(days=4 + (n * 5) % 17), 16)
        self.push(claimed, lambda now: self.claim(request, member, now))

    def claim(self, request: FundRequest, member: Any, now: datetime) -> None:
        self.claimed += 1
        count = self.claimed
        supplier = SUPPLIERS[count % len(SUPPLIERS)]
        number = f"{supplier[:2].upper()}-{request.starts_on:%y%m}-{count:03d}"
        # The actual cost: a little under the plan, now and then over it.
        approved = request.approved_amount
        assert approved is not None  # an approved request
        share = D(("0.92", "1.0", "0.85", "1.1")[count % 4])
        cost = (approved * 2 * share).quantize(D("1"))
        amount = min((cost / 2).quantize(D("0.01")), approved)
        leads = 8 + count % 9
        data = claims.ClaimData(
            invoice_number=number,
            invoice_date=request.ends_on,
            supplier=supplier,
            claimed_amount=amount,
            lines=[("Venue and promotion", cost * D("0.7")), ("Catering", cost * D("0.3"))],
            leads=leads,
            attendees=leads * 5,
            opportunities=1 + count % 4,
            results=f"{leads * 5} took part; {leads} qualified leads passed to sales.",
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
        claim = claims.save_claim(
            request, data, by=member, client_token=uuid.uuid4(), submit=True, now=now
        )
        _leads(self.tenant, request, member, now, leads)
        today = self.tenant.local_today(now)
        decided = at(self.tenant, business_day(today, 2 + count % 6), 11)
        if count % ASK_EVERY == 0:
            self.push(decided, lambda now: self.ask(claim, member, now))
            return
        self.push(decided, lambda now: self.decide(claim, count, now))

    def ask(self, claim: Any, member: Any, now: datetime) -> None:
        claim = claims.request_claim_info(
            claim,
            by=self.story.finance,
            message="Please attach the attendee list, or say how many came.",
            now=now,
        )
        answered = now + timedelta(days=1, hours=3)

        def answer(now: datetime) -> None:
            answered_claim = claims.provide_claim_info(
                claim, by=member, message="The attendee list is attached to the results.", now=now
            )
            later = at(self.tenant, business_day(self.tenant.local_today(now), 2), 11)
            self.push(later, lambda now: self.decide(answered_claim, 1, now))

        self.push(answered, answer)

    def decide(self, claim: Any, count: int, now: datetime) -> None:
        finance = self.story.finance
        if count % REJECT_EVERY == 0:
            claims.reject_claim(
                claim,
                by=finance,
                reason="The invoice is addressed to another company; claim with your own invoice.",
                now=now,
            )
        elif count % TRIM_EVERY == 0:
            claims.approve_claim(
                claim,
                by=finance,
                approved_cost=(claim.total_cost * D("0.9")).quantize(D("0.01")),
                reason="The catering above the agreed rate is not covered.",
                now=now,
            )
        else:
            claims.approve_claim(claim, by=finance, now=now)

    # --- money out ----------------------------------------------------------------------

    def payout(self, ends_on: date) -> None:
        """An off-cycle payout run early in the quarter's last month, on a
        day no monthly run was open (the incentives demo has made them all),
        when it was paid before now."""
        day = free_day(self.tenant, business_day(ends_on - timedelta(days=28), 0))
        paid = business_day(business_day(day, 1), self.story.paying_takes(day))
        if at(self.tenant, paid, 15) < self.story.now - timedelta(minutes=5):
            self.story.pay_at(day)


def free_day(tenant: Any, day: date) -> date:
    """The first business day from ``day`` on which no monthly payout run
    was open, nor opened the next business day (the off-cycle run is
    approved then)."""
    runs = [
        (created, approved)
        for created, approved in PayoutRun.objects.values_list("created_at", "approved_at")
        if approved is not None
    ]
    while True:
        start = at(tenant, day, 8.5)
        end = at(tenant, business_day(day, 1), 10)
        if not any(created < end and approved >= start for created, approved in runs):
            return day
        day = business_day(day, 1)


def _leads(tenant: Any, request: FundRequest, member: Any, now: datetime, count: int) -> None:
    """The leads the activity brought, uploaded with the claim."""
    domain = request.partner.domain
    ActivityLead.objects.bulk_create(
        ActivityLead(
            tenant=tenant,
            request=request,
            name=name,
            email=f"{name.split()[0].lower()}.{request.code.lower()}@prospect{n}.example",
            company=f"Prospect {n} of {domain}",
            uploaded_by=member.user,
            uploaded_at=now,
        )
        for n, name in enumerate(LEAD_NAMES[: 2 + count % 5], start=1)
    )


def source(history: History) -> None:
    """The registrations the history's funded activities sourced: each
    names the partner's deals won that were registered after the activity
    started (the partner chose the activity on the registration form then)."""
    taken = set(SourcedDeal.objects.values_list("registration_id", flat=True))
    links = []
    for request in sorted(history.activities, key=lambda r: r.starts_on):
        after = at(history.tenant, request.starts_on, 0)
        until = after + timedelta(days=SOURCING_DAYS)
        deals = (
            DealRegistration.objects.filter(
                partner_id=request.partner_id,
                status=DealRegistration.Status.WON,
                submitted_at__gte=after,
                submitted_at__lt=until,
            )
            .exclude(pk__in=taken)
            .order_by("submitted_at", "pk")[:SOURCED]
        )
        for deal in deals:
            taken.add(deal.pk)
            links.append(
                SourcedDeal(
                    tenant=history.tenant,
                    registration=deal,
                    request=request,
                    created_at=deal.submitted_at or after,
                )
            )
    SourcedDeal.objects.bulk_create(links)


def reissue_statements(story: Any) -> None:
    """The partners' statements again, with what this step wrote into
    their closed periods.

    The incentives demo closed each month as it came (its step runs before
    this one), so the statements it issued lack the reimbursements and the
    off-cycle payouts this step booked in those months since. The period
    close would have seen them: each statement of a partner with such an
    entry, from the entry's period on, is issued again by the period close's
    own service, as of the moment it was first issued (its opening, sums and
    closing now those of the whole ledger; ``check_ledger`` checks them)."""
    written = LedgerEntry.objects.filter(
        Q(kind=LedgerEntry.Kind.REIMBURSEMENT) | Q(payout_run__in=[r.pk for r in story.runs])
    )
    first = dict(
        written.order_by()
        .values("partner_id")
        .annotate(start=Min("statement_start"))
        .values_list("partner_id", "start")
    )
    if not first:
        return
    stale = Statement.objects.none()
    for partner_id, start in first.items():
        stale |= Statement.objects.filter(partner_id=partner_id, period_start__gte=start)
    issued = dict(
        Statement.objects.filter(period_start__gte=min(first.values()))
        .order_by()
        .values("period_start")
        .annotate(at=Min("issued_at"))
        .values_list("period_start", "at")
    )
    stale.delete()
    for period_start, moment in sorted(issued.items()):
        statements.issue_statements(story.tenant, period_start, now=moment)
