"""MDF's demo story: the tools ``demo`` plays it with. Every step is a
service call made at the moment it happened (``now=`` in the past, inside
``Past.at``), played in time order like the other apps' demo years; the
proofs are small PDFs made here."""

import heapq
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from incentives import payouts
from incentives.demo_year import finance_people
from partners.models import Partner, Tier
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import HISTORY_DAYS, Past, at, demo_member, demo_user
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import Role

from . import claims, funds, periods, requests
from .models import (
    ActivityType,
    Allocation,
    Budget,
    Claim,
    Document,
    FundRequest,
    FundType,
)

D = Decimal
# What each tier gets of a quarter's MDF budget (by tier rank).
PER_TIER = {3: D("20000"), 2: D("10000"), 1: D("4000")}
# The first partner's extra for its launch campaign, by hand, each quarter.
TOP_UP = D("15000")
# A partner gets the rule's allocation once it has been in the program this long.
JOINED_BEFORE = 30


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
        assert self.user.partner is not None  # the directory's step made it
        self.first: Partner = self.user.partner
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.pushed = 0
        self.requests: dict[str, FundRequest] = {}
        self.claims: dict[str, Claim] = {}
        self.allocations: list[Allocation] = []
        # The off-cycle payout runs the story made.
        self.runs: list[Any] = []

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
        # The partners in the program by then (a month past joining).
        joined = moment - timedelta(days=JOINED_BEFORE)
        plan = funds.RulePlan(
            [(p, amount) for p, amount in plan.rows if p.created_at <= joined], plan.skipped
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
            services: dict[str, Callable[..., Claim]] = {
                "approve": claims.approve_claim,
                "reject": claims.reject_claim,
                "ask": claims.request_claim_info,
            }
            service = services[action]
            self.claims[key] = service(claim, by=self.finance, now=now, **kw)

        self.later(days, run, 11)

    def pay_at(self, day: date) -> None:
        """An off-cycle payout run started on ``day`` (cutoff that day),
        approved by the second finance person the next business day, marked
        paid when accounts payable has sent the money (``paying_takes``):
        the reimbursements approved so far reach the partners' statements."""
        runs: list[Any] = []

        def start(now: datetime) -> None:
            if payouts.open_run() is not None:
                return  # this month's run waits for its approval: paid with the next
            cutoff = self.tenant.local_today(now)
            run = payouts.start_run(self.tenant, by=self.finance, cutoff=cutoff, now=now)
            run = payouts.compute_run(run, now=now + timedelta(minutes=1))
            if run.lines.filter(status="ready").exists():
                runs.append(run)
                self.runs.append(run)
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

        self.push(at(self.tenant, day, 9), start)
        self.push(at(self.tenant, business_day(day, 1), 9.5), approve)
        approved = business_day(day, 1)
        self.push(at(self.tenant, business_day(approved, self.paying_takes(day)), 15), paid)

    def paying_takes(self, day: date) -> int:
        """Business days accounts payable takes to send a run's money, as in
        the incentives demo's monthly runs: two weeks and more at the start
        of the year, the next day by its end."""
        progress = (day - (self.today - timedelta(days=HISTORY_DAYS))).days / HISTORY_DAYS
        return max(round(12 - 11 * progress), 1)


def business_day(day: date, count: int) -> date:
    """The ``count``-th weekday after ``day`` (``day`` itself for 0 on a weekday)."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    for _ in range(count):
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
    return day
