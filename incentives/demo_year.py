"""Incentives' demo year: the ledger of the deal registration year, written
by this app's services with ``now=`` at the moment each step happened, in
the order they happened.

Each won deal is accrued minutes after its win was recorded (the task the
win kicks); a few wins are reversed later (the customer cancelled) and
clawed back; partner admins dispute a statement line about once a quarter
and finance adjusts most of them; the period close issues the month's
statements and the quarter's rebates on the first of each month; finance
pays out every month (started by one person, approved by another, written,
then marked paid when accounts payable has sent the money, much sooner as
the year goes on); this month's run may still wait for its approval.
"""

import heapq
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from dealreg import services as dealreg
from dealreg.models import DealRegistration
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import HISTORY_DAYS, LEAD_IN_DAYS, Past, at, demo_member, demo_user
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role

from . import disputes, ledger, payouts, statement_tasks
from .models import Dispute, LedgerEntry, PayoutRun

# Exchange rates in force from the first of each month (base units per unit),
# by base currency: they drift over the year.
MONTHLY_RATES = {
    "USD": {"EUR": Decimal("1.0842"), "GBP": Decimal("1.2671"), "CAD": Decimal("0.7312")},
    "EUR": {"USD": Decimal("0.9223"), "GBP": Decimal("1.1687"), "CAD": Decimal("0.6744")},
}
# Payout runs start on this business day of the month (after the first).
RUN_DAY = 10
# How many wins are reversed (the customer cancelled), days after the win.
REVERSALS = [(0.3, 6), (0.55, 40)]
DISPUTES = [
    ("The accelerator should apply: we passed quota that quarter.", "adjust", "0.25"),
    ("The deal was closed in EUR at the quoted rate; the amount looks low.", "adjust", "0.08"),
    ("This deal included SD-WAN; the SPIFF is missing.", "reject", ""),
    ("The commission was computed on the estimate, not the won amount.", "adjust", "0.12"),
]


class LedgerYear:
    def __init__(self, ctx: DemoContext, finance: Membership, checker: Membership) -> None:
        self.ctx = ctx
        self.tenant = ctx.tenant
        self.rng = random.Random(f"incentives-{self.tenant.slug}")  # noqa: S311 (a story)
        self.now = timezone.now()
        self.today = self.tenant.local_today()
        self.start = self.today - timedelta(days=HISTORY_DAYS)
        self.finance = finance
        self.checker = checker
        self.ops = ctx.people[Role.OPS_ADMIN]
        self.past = Past(self.tenant)
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.pushed = 0
        self.opened: dict[object, Dispute] = {}

    def push(self, when: datetime, action: Callable[[], None]) -> None:
        if when < self.now:
            heapq.heappush(self.queue, (when, self.pushed, action))
            self.pushed += 1

    def play(self, reverse: list[DealRegistration]) -> None:
        won = list(
            DealRegistration.objects.filter(
                status=DealRegistration.Status.WON, outcome_recorded_at__lt=self.now
            ).order_by("outcome_recorded_at", "pk")
        )
        for deal in won:
            assert deal.outcome_recorded_at is not None
            self.push(deal.outcome_recorded_at + timedelta(minutes=2), self.sync(deal))
        history = [
            d for d in won if d.outcome_recorded_at and d.outcome_recorded_at.date() > self.start
        ]
        for share, days in REVERSALS:
            self.reverse(history[int(len(history) * share)], days)
        for deal in reverse:
            self.reverse(deal, 5)
        self.plan_disputes(history)
        began = self.start - timedelta(days=LEAD_IN_DAYS)
        month = _next_month(date(began.year, began.month, 1))
        while month <= self.today:
            self.push(at(self.tenant, month, 2), self.close_periods(month))
            self.push(at(self.tenant, _business_day(month, RUN_DAY), 9), self.pay_out(month))
            month = _next_month(month)
        while self.queue:
            _, _, action = heapq.heappop(self.queue)
            action()
        self.past.settle()

    def sync(self, deal: DealRegistration) -> Callable[[], None]:
        def run() -> None:
            assert deal.outcome_recorded_at is not None
            when = deal.outcome_recorded_at + timedelta(minutes=2)
            with self.past.at(when):
                ledger.sync_deal(deal, now=when, via="task:sync_deal")

        return run

    def reverse(self, deal: DealRegistration, days: int) -> None:
        """Plan the reversal of ``deal``'s win ``days`` after it was
        recorded (in the morning), and its clawback minutes later."""
        assert deal.outcome_recorded_at is not None
        when = at(self.tenant, self.rng_day(deal.outcome_recorded_at, days), 11)

        def run() -> None:
            with self.past.at(when):
                reversed_deal = dealreg.reverse_win(
                    deal, by=self.ops, reason="The customer cancelled the order.", now=when
                )
            later = when + timedelta(minutes=2)
            with self.past.at(later):
                ledger.sync_deal(reversed_deal, now=later, via="task:sync_deal")

        self.push(when, run)

    def rng_day(self, moment: datetime, days: int) -> date:
        return self.tenant.local_today(moment) + timedelta(days=days)

    def plan_disputes(self, history: list[DealRegistration]) -> None:
        """One dispute a quarter, by the partner's admin, on an accrual of a
        deal won that quarter."""
        admins = {
            m.partner_id: m
            for m in Membership.objects.filter(role=Role.PARTNER_ADMIN, is_active=True)
            .exclude(partner=None)
            .order_by("user__email")
        }
        candidates = [d for d in history if d.partner_id in admins]
        for n, (message, decision, share) in enumerate(DISPUTES):
            quarter = [
                d
                for d in candidates
                if d.outcome_recorded_at
                and (n + 0.2) / 4
                < (d.outcome_recorded_at.date() - self.start).days / HISTORY_DAYS
                < (n + 0.8) / 4
            ]
            if not quarter:
                continue
            deal = self.rng.choice(quarter)
            assert deal.outcome_recorded_at is not None
            opened = at(self.tenant, self.rng_day(deal.outcome_recorded_at, 9), 14)
            decided = at(self.tenant, self.rng_day(opened, 4), 10)
            self.push(opened, self.dispute(deal, admins[deal.partner_id], message, decision, share))
            self.push(decided, self.decide(deal, decision, share, decided))

    def dispute(
        self, deal: DealRegistration, admin: Membership, message: str, decision: str, share: str
    ) -> Callable[[], None]:
        def run() -> None:
            entry = (
                LedgerEntry.objects.filter(registration=deal, kind=LedgerEntry.Kind.ACCRUAL)
                .order_by("created_at")
                .first()
            )
            if entry is None:
                return
            assert deal.outcome_recorded_at is not None
            when = at(self.tenant, self.rng_day(deal.outcome_recorded_at, 9), 14)
            with self.past.at(when):
                self.opened[deal.pk] = disputes.open_dispute(
                    entry, by=admin, message=message, now=when
                )

        return run

    def decide(
        self, deal: DealRegistration, decision: str, share: str, when: datetime
    ) -> Callable[[], None]:
        def run() -> None:
            dispute = self.opened.get(deal.pk)
            if dispute is None:
                return
            with self.past.at(when):
                if decision == "adjust":
                    amount = (dispute.entry.amount_base * Decimal(share)).quantize(Decimal("0.01"))
                    disputes.resolve_with_adjustment(
                        dispute,
                        by=self.finance,
                        amount=amount,
                        reason="Checked against the deal: the partner is right.",
                        now=when,
                    )
                else:
                    disputes.reject(
                        dispute,
                        by=self.finance,
                        reason="The SPIFF covers deals closed from the start of its quarter only.",
                        now=when,
                    )

        return run

    def close_periods(self, month: date) -> Callable[[], None]:
        def run() -> None:
            when = at(self.tenant, month, 2)
            with self.past.at(when):
                statement_tasks.close_ended_periods(self.tenant, now=when)

        return run

    def pay_out(self, month: date) -> Callable[[], None]:
        """The month's payout run: started by finance mid-month (cutoff that
        day), approved by the second pair of eyes the next morning, marked
        paid when accounts payable has sent the money: two weeks and more
        later at the start of the year, the next day by its end. The current month's run
        may still wait for its approval or payment."""

        def run() -> None:
            day = _business_day(month, RUN_DAY)
            started = at(self.tenant, day, 9)
            progress = (day - self.start).days / HISTORY_DAYS
            if not payouts.unsettled_entries(day).exists():
                return  # nothing has become payable yet: no run
            with self.past.at(started):
                run = payouts.start_run(self.tenant, by=self.finance, cutoff=day, now=started)
                run = payouts.compute_run(run, now=started + timedelta(minutes=1))
            if not run.lines.filter(status="ready").exists():
                with self.past.at(started):
                    payouts.cancel(run, by=self.finance, reason="Nothing to pay this month.")
                return
            approved = at(self.tenant, _business_day(day, 1), 9.5)
            if approved >= self.now:
                return  # waits for the second pair of eyes
            with self.past.at(approved):
                run = payouts.approve(run, by=self.checker, now=approved)
                run = payouts.write_payouts(run, now=approved + timedelta(minutes=1))
            delay = max(round(12 - 11 * progress), 1)
            paid_on = _business_day(self.tenant.local_today(approved), delay)
            paid = at(self.tenant, paid_on, 15)
            if paid >= self.now:
                return  # accounts payable has not sent it yet
            with self.past.at(paid):
                payouts.mark_paid(
                    run,
                    by=self.finance,
                    reference=f"ACH-{day:%Y-%m}",
                    paid_on=paid_on,
                    now=paid,
                )

        return run


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _business_day(day: date, count: int) -> date:
    """The ``count``-th weekday after ``day`` (``day`` itself for 0 on a weekday)."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    for _ in range(count):
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
    return day


def finance_people(ctx: DemoContext) -> tuple[Membership, Membership]:
    """Finance, and the second finance person who approves payout runs."""
    checker = demo_member(
        ctx.tenant,
        demo_user(f"finance.checker@{ctx.tenant.slug}.example", "Farid Finance-Checker"),
        Role.FINANCE,
    )
    return ctx.people[Role.FINANCE], checker


def seed_year(ctx: DemoContext, reverse: list[DealRegistration]) -> None:
    finance, checker = finance_people(ctx)
    year = LedgerYear(ctx, finance, checker)
    year.play(reverse)
    ctx.objects["incentives.payout_runs"] = PayoutRun.objects.count()
