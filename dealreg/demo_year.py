"""Deal registration's demo year: a year of registrations from the partner
directory's partners, written by this app's own services with ``now=`` at
the moment each step happened, in the order they happened.

The story (fixed random seed per tenant, relative to today): partners
register more deals as the year goes on and more at the end of each quarter;
channel managers decide faster as the year goes on (SLA compliance rises
from about three in four to over nine in ten), sometimes after asking the
partner for more information; about one in ten is rejected, some because
another partner or the vendor's direct team had the customer first (the
conflict check finds them); approved deals are won or lost within their
protection, or expire (the protection sweep, run weekly); wins cluster at
quarter ends. Partners that went quiet (``partners.demo.PartnerStory``)
register nothing since, and their open deals are lost. The vendor's direct
pipeline is imported from its CRM at the start of every month.
"""

import heapq
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from partners.demo import PartnerStory
from partners.models import Partner
from prm.tenancy.businesstime import BusinessCalendar
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import HISTORY_DAYS, LEAD_IN_DAYS, Past, at
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import PARTNER_ROLES, Role

from . import direct_import, services, sla
from .conflicts import find_conflicts
from .models import DealRegistration, DealRegSettings, ProductLine, RegistrationEvent
from .workflow import DealRegError, record_event

# Registrations a month of a partner whose activity is 1 (see PartnerStory).
MONTHLY = 0.8
# Direct opportunities the vendor's CRM holds over the year (DemoContext.history times).
DIRECT = 90
# Customers' currencies by country, where a partner there may quote in them
# (a registration is in the base currency otherwise).
LOCAL_CURRENCY = {
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "NL": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "SE": "EUR",
    "PL": "EUR",
    "CA": "CAD",
    "US": "USD",
    "MX": "USD",
}
# fmt: off
CUSTOMER_PREFIXES = [
    "Apex", "Bluewater", "Cedar", "Summit", "Redwood", "Granite", "Harbor", "Ironwood",
    "Juniper", "Keystone", "Lakeside", "Meridian", "Northstar", "Oakridge", "Pioneer",
    "Quantum", "Riverbend", "Silverline", "Trident", "Vanguard", "Westfield", "Zenith",
    "Aurora", "Beacon", "Crescent", "Evergreen", "Falcon", "Horizon",
]
CUSTOMER_SECTORS = [
    "Logistics", "Health", "Foods", "Bank", "Insurance", "Energy", "Retail", "Manufacturing",
    "Pharma", "Telecom", "Hotels", "Airlines", "Media", "Utilities", "Motors", "Steel",
    "Labs", "University", "Shipping", "Foundation",
]
# fmt: on
REJECTIONS = [
    "The customer is a named account handled by the direct team.",
    "Not a new opportunity: the customer renewed with us last quarter.",
    "Too early to protect: no budget or project yet.",
    "The product lines registered are not sold to this customer's segment.",
]
LOSSES = [
    "Lost on price to a competitor.",
    "The customer postponed the project to next year.",
    "The customer chose to stay with their current vendor.",
    "No budget after the customer's reorganisation.",
]
QUESTIONS = [
    "Who is the economic buyer, and is there an approved budget?",
    "Which sites does this cover? The customer has several subsidiaries.",
    "Is this a new deployment or a renewal of an existing contract?",
]
ANSWERS = [
    "The CIO signs; the budget was approved in the last board meeting.",
    "Headquarters and the two plants in the region; the rest stay out of scope.",
    "A new deployment: they currently use a competitor's product.",
]


@dataclass
class Planned:
    """One registration's planned life; ``registration`` once submitted."""

    partner: Partner
    submitter: Membership
    submitted_at: datetime
    customer: tuple[str, str, str]  # name, domain, country
    value: Decimal
    currency: str
    products: list[ProductLine]
    expected_close: date
    steps: list[tuple[datetime, str]] = field(default_factory=list)
    close_date: date | None = None
    amount: Decimal | None = None
    reason: str = ""
    registration: DealRegistration | None = None
    # When its next step comes (None: its life is over, or goes on after now).
    next_at: datetime | None = None


class Year:
    """One tenant's year: plans every registration, then plays every step
    in time order up to now."""

    def __init__(self, ctx: DemoContext, products: list[ProductLine]) -> None:
        self.ctx = ctx
        self.tenant: Tenant = ctx.tenant
        self.rng = random.Random(f"dealreg-{self.tenant.slug}")  # noqa: S311 (a story, not a secret)
        self.now = timezone.now()
        self.today = self.tenant.local_today()
        self.start = self.today - timedelta(days=HISTORY_DAYS)
        self.products = products
        self.settings = DealRegSettings.for_tenant(self.tenant)
        self.calendar: BusinessCalendar = self.settings.calendar()
        self.stories: dict[object, PartnerStory] = ctx.objects["partners.stories"]
        members = Membership.objects.filter(is_active=True).select_related("user", "partner")
        self.staff = {m.user_id: m for m in members if m.role not in PARTNER_ROLES}
        self.sellers: dict[object, list[Membership]] = {}
        for m in members.order_by("user__email"):
            if m.role in PARTNER_ROLES and m.partner_id:
                self.sellers.setdefault(m.partner_id, []).append(m)
        self.customers = [
            (f"{p} {s}", f"{p}{s}".lower().replace(" ", "") + ".example")
            for p in CUSTOMER_PREFIXES
            for s in CUSTOMER_SECTORS
        ]
        self.rng.shuffle(self.customers)
        self.plans: list[Planned] = []
        self.direct: list[dict[str, str]] = []
        self.past = Past(self.tenant)
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.pushed = 0
        # Every fifteenth registration or so names a customer already registered.
        self.next_conflict = 10
        self.spreads = 0
        # The SLA sweeps planned (when a registration's decision is overdue).
        self.sweeps: set[datetime] = set()

    # --- Planning -------------------------------------------------------------------------

    def growth(self, day: date) -> float:
        """The partners sell more through the year: 0.9 at its start, 1.1
        today (besides the partners who join during it)."""
        return 0.9 + 0.2 * (day - self.start).days / HISTORY_DAYS

    def season(self, day: date) -> float:
        """More deals in a quarter's last month, fewer in its first."""
        return (0.8, 1.0, 1.3)[(day.month - 1) % 3]

    def business_moment(self, day: date) -> datetime:
        while day.weekday() >= 5:
            day += timedelta(days=1)
        late = self.rng.random() < 0.1  # a few come in the evening
        hour = self.rng.uniform(18, 21) if late else self.rng.uniform(8.5, 17.5)
        return at(self.tenant, day, hour)

    def plan(self) -> None:
        partners = self.ctx.objects["partners.partners"]
        for partner in partners:
            story = self.stories.get(partner.pk)
            sellers = [m for m in self.sellers.get(partner.pk, []) if m.role == Role.PARTNER_USER]
            if story is None or story.registers_from is None or not sellers:
                continue
            if partner.status not in (Partner.Status.ACTIVE, Partner.Status.ONBOARDING):
                continue  # suspended today: its registrations could not be submitted
            first = max(
                self.start - timedelta(days=LEAD_IN_DAYS), story.registers_from + timedelta(days=21)
            )
            last = min(d for d in (story.registers_until, story.quiet_since, self.today) if d)
            # Deals come at the partner's rate, irregularly but without the
            # long droughts and bursts of pure chance (a quarter's figures
            # follow the story, not the dice).
            gap = self.rng.uniform(0.6, 1.4)
            day, due = first, self.rng.uniform(0, gap)
            while day < last:
                due += story.activity * MONTHLY / 30 * self.growth(day) * self.season(day)
                if due >= gap:
                    due -= gap
                    gap = self.rng.uniform(0.6, 1.4)
                    self.plans.append(self.planned(partner, sellers, story, day))
                day += timedelta(days=1)
        self.plan_direct()
        self.plans.sort(key=lambda p: p.submitted_at)
        direct = set(self.rng.sample(range(len(self.plans) // 2, len(self.plans)), 2))
        for n, planned in enumerate(self.plans):
            self.plan_conflict(n, planned, n in direct)
            self.plan_life(planned)

    def planned(
        self, partner: Partner, sellers: list[Membership], story: PartnerStory, day: date
    ) -> Planned:
        rng = self.rng
        name, domain = self.customers.pop()
        country = str(partner.country) if rng.random() < 0.8 else rng.choice(["US", "GB", "DE"])
        local = LOCAL_CURRENCY.get(country, self.tenant.base_currency)
        currency = local if rng.random() < 0.5 else self.tenant.base_currency
        rank = partner.tier.rank
        median = 22000 * (1 + rank / 2) * (0.85 + 0.3 * (day - self.start).days / HISTORY_DAYS)
        value = Decimal(round(math.exp(rng.gauss(math.log(median), 0.45)) / 500) * 500 or 500)
        count = 2 if rng.random() < 0.25 else 1
        return Planned(
            partner=partner,
            submitter=sellers[0] if rng.random() < 0.75 else rng.choice(sellers),
            submitted_at=self.business_moment(day),
            customer=(name, domain, country),
            value=value,
            currency=currency,
            products=rng.sample(self.products, count),
            expected_close=day + timedelta(days=rng.randint(30, 120)),
        )

    def plan_conflict(self, n: int, planned: Planned, direct: bool) -> None:
        """A few registrations name a customer another partner registered
        (and was approved) weeks before, or one the direct team is working."""
        rng = self.rng
        if direct:
            opportunities = [
                d
                for d in self.direct
                if d["opened"] < planned.submitted_at.date().isoformat() < d["close_date"]
            ]
            if opportunities:
                opportunity = rng.choice(opportunities)
                planned.customer = (
                    opportunity["customer_name"],
                    opportunity["customer_domain"],
                    opportunity["customer_country"],
                )
                planned.reason = "direct"
            return
        if n < self.next_conflict:
            return
        earlier = [
            p
            for p in self.plans[max(0, n - 60) : n]
            if p.partner.pk != planned.partner.pk
            and any(what == "approve" and t < planned.submitted_at for t, what in p.steps)
            and p.steps[-1][0] > planned.submitted_at + timedelta(days=3)
        ]
        if earlier:
            other = rng.choice(earlier)
            planned.customer = (f"{other.customer[0]} Inc.", *other.customer[1:])
            planned.reason = "conflict"
            self.next_conflict = n + rng.randint(10, 24)

    def spread(self) -> float:
        """The next of a sequence of numbers in [0, 1) that fills the
        interval evenly (the golden ratio's multiples): outcomes drawn with
        it follow their odds closely in every quarter."""
        self.spreads += 1
        return (self.spreads * 0.6180339887 + 0.3) % 1

    def decision_hours(self, when: datetime) -> float:
        """Business hours to a decision: slower early in the year."""
        progress = (when.date() - self.start).days / HISTORY_DAYS
        median = 10 - 5.5 * progress
        return min(math.exp(self.rng.gauss(math.log(median), 0.6)), 60)

    def plan_life(self, planned: Planned) -> None:
        rng = self.rng
        steps = planned.steps
        t = planned.submitted_at
        steps.append((t, "submit"))
        if rng.random() < 0.02:
            steps.append((self.calendar.add(t, timedelta(hours=rng.uniform(2, 20))), "withdraw"))
            return
        if rng.random() < 0.12:
            asked = self.calendar.add(t, timedelta(hours=rng.uniform(1, 6)))
            answered = asked + timedelta(hours=rng.uniform(10, 70))
            steps += [(asked, "ask"), (answered, "answer")]
            t = self.calendar.add(answered, timedelta(hours=rng.uniform(0.5, 3)))
        decided = self.calendar.add(t, timedelta(hours=self.decision_hours(t)))
        if planned.reason or rng.random() < 0.09:
            steps.append((decided, "reject"))
            return
        steps.append((decided, "approve"))
        quiet = self.stories[planned.partner.pk].quiet_since
        cycle = min(int(math.exp(rng.gauss(math.log(42), 0.45))), 84)
        closed = decided.date() + timedelta(days=cycle)
        roll = self.spread()
        if quiet is not None and closed > quiet - timedelta(days=20):
            roll = max(roll, 0.75)  # the quiet partner's last deals slip away
        progress = (decided.date() - self.start).days / HISTORY_DAYS
        if roll < 0.52 + 0.1 * progress:  # partners win more as the program matures
            quarter_end = _quarter_end(closed)
            if (quarter_end - closed).days < 21 and rng.random() < 0.6:
                closed = quarter_end - timedelta(days=rng.randint(0, 4))  # pulled into the quarter
            planned.close_date = closed
            planned.amount = (planned.value * Decimal(rng.uniform(0.85, 1.1))).quantize(
                Decimal("1")
            )
            recorded = at(self.tenant, closed + timedelta(days=rng.randint(0, 4)), 15)
            steps.append((recorded, "win"))
        elif roll < 0.93:
            planned.reason = rng.choice(LOSSES)
            steps.append((at(self.tenant, closed, 16), "lose"))
        # Otherwise nobody records an outcome: the protection sweep expires it.

    def plan_direct(self) -> None:
        """The direct team's opportunities: a CRM row each, as it stands at
        each monthly import."""
        rng = self.rng
        for n in range(round(DIRECT * self.ctx.history)):
            opened = self.start + timedelta(days=rng.randint(-LEAD_IN_DAYS, HISTORY_DAYS - 20))
            name, domain = self.customers.pop()
            cycle = rng.randint(30, 150)
            close = opened + timedelta(days=cycle)
            if (_quarter_end(close) - close).days < 21 and rng.random() < 0.5:
                close = _quarter_end(close)
            amount = round(math.exp(rng.gauss(math.log(60000), 0.6)) / 1000) * 1000
            won = rng.random() < 0.5
            self.direct.append(
                {
                    "external_id": f"OPP-{n + 1:05d}",
                    "customer_name": name,
                    "customer_domain": domain,
                    "customer_country": str(self.tenant.country),
                    "owner_name": "Dana Direct",
                    "owner_email": f"dana.direct@{self.tenant.slug}.example",
                    "amount": f"{amount}.00",
                    "currency": self.tenant.base_currency,
                    "opened": opened.isoformat(),
                    "close_date": close.isoformat(),
                    "stage": "closed_won" if won else "closed_lost",
                }
            )

    # --- Playing ----------------------------------------------------------------------------

    def push(self, when: datetime, action: Callable[[], None]) -> bool:
        """Plan ``action`` at ``when``, unless that is after now."""
        if when >= self.now:
            return False
        heapq.heappush(self.queue, (when, self.pushed, action))
        self.pushed += 1
        return True

    def play(self) -> None:
        for planned in self.plans:
            # A plan's steps run one after the other: each pushes the next.
            self.push(planned.steps[0][0], self.stepper(planned, 0))
        day = self.start - timedelta(days=LEAD_IN_DAYS)
        while day <= self.today:
            if day.weekday() == 0:
                self.push(at(self.tenant, day, 5), self.sweep_protection(day))
            if day.day == 1 and day.month % 2:
                self.push(at(self.tenant, day, 7), self.import_direct(day))
            day += timedelta(days=1)
        while self.queue:
            _, _, action = heapq.heappop(self.queue)
            action()
        self.past.settle()

    def stepper(self, planned: Planned, index: int) -> Callable[[], None]:
        def run() -> None:
            when, what = planned.steps[index]
            with self.past.at(when):
                done = self.do(planned, what, when)
            planned.next_at = None
            if done and index + 1 < len(planned.steps):
                following = planned.steps[index + 1][0]
                if self.push(following, self.stepper(planned, index + 1)):
                    planned.next_at = following
            if what in ("submit", "answer"):
                self.wait_for_sweep(planned)

        return run

    def wait_for_sweep(self, planned: Planned) -> None:
        """Plan the SLA sweep that finds ``planned`` overdue, if it is still
        undecided then (the sweep sends the reminders due by then too)."""
        registration = planned.registration
        assert registration is not None
        due = registration.sla_due_at
        if due is None or (planned.next_at is not None and due >= planned.next_at):
            return
        check = due + timedelta(minutes=5)
        if check not in self.sweeps and self.push(check, self.sweep_sla(check)):
            self.sweeps.add(check)

    def decider(self, registration: DealRegistration) -> Membership:
        member = self.staff.get(registration.approver_id) if registration.approver_id else None
        return member or self.ctx.people[Role.OPS_ADMIN]

    def do(self, planned: Planned, what: str, when: datetime) -> bool:
        """One step of a registration's life, through the services; whether
        its life goes on (a step the workflow refuses ends it)."""
        if what == "submit":
            return self.submit(planned, when)
        return self.act(planned, what, when)

    def submit(self, planned: Planned, when: datetime) -> bool:
        """Submit, and run the conflict check the submission queues (a minute
        later) for the registrations planned to conflict: approve() checks
        the others again before deciding."""
        name, domain, country = planned.customer
        registration = services.submit(
            tenant=self.tenant,
            by=planned.submitter,
            given=services.RegistrationInput(
                data={
                    "customer_name": name,
                    "customer_domain": domain,
                    "customer_country": country,
                    "customer_contact_name": "Head of IT",
                    "customer_contact_email": f"it@{domain}",
                    "estimated_value": planned.value,
                    "currency": planned.currency,
                    "expected_close_date": planned.expected_close,
                    "description": f"{', '.join(p.name for p in planned.products)} for {name}.",
                },
                product_lines=planned.products,
            ),
            client_token=uuid.uuid4(),
            now=when,
        )
        planned.registration = registration
        if not planned.reason:
            return True
        checked = when + timedelta(minutes=1)
        found = find_conflicts(registration, now=checked)
        if found:
            record_event(
                registration,
                RegistrationEvent.Kind.CONFLICTS_FOUND,
                visible=False,
                data={"count": len(found), "reasons": [c.reasons for c in found][:10]},
                now=checked,
            )
        return True

    def act(self, planned: Planned, what: str, when: datetime) -> bool:
        rng = self.rng
        registration = planned.registration
        assert registration is not None
        decider = self.decider(registration)
        try:
            if what == "ask":
                planned.registration = services.request_info(
                    registration, by=decider, message=rng.choice(QUESTIONS), now=when
                )
            elif what == "answer":
                planned.registration = services.provide_info(
                    registration, by=planned.submitter, message=rng.choice(ANSWERS), now=when
                )
            elif what == "withdraw":
                services.withdraw(
                    registration,
                    by=planned.submitter,
                    reason="The customer paused the project.",
                    now=when,
                )
            elif what == "approve":
                reason = "Clear: no competing registrations." if rng.random() < 0.3 else ""
                planned.registration = services.approve(
                    registration, by=decider, reason=reason, now=when
                )
            elif what == "reject":
                services.reject(registration, by=decider, reason=self.rejection(planned), now=when)
            elif what in ("win", "lose"):
                fresh = DealRegistration.objects.get(pk=registration.pk)
                if fresh.status != DealRegistration.Status.APPROVED:
                    return False  # expired before anyone recorded the outcome
                planned.registration = services.record_outcome(
                    fresh,
                    by=planned.submitter,
                    won=what == "win",
                    amount=planned.amount,
                    close_date=planned.close_date,
                    reason=planned.reason,
                    now=when,
                )
        except DealRegError:
            if what != "approve":
                raise
            # Another partner's approved registration of the customer came first.
            services.reject(
                registration, by=decider, reason=self.rejection(planned, "conflict"), now=when
            )
            return False
        return True

    def rejection(self, planned: Planned, reason: str = "") -> str:
        reason = reason or planned.reason
        if reason == "conflict":
            return "Another partner registered this customer first and is protected."
        if reason == "direct":
            return "Our direct team is already working this opportunity."
        return self.rng.choice(REJECTIONS)

    def sweep_protection(self, day: date) -> Callable[[], None]:
        def run() -> None:
            when = at(self.tenant, day, 5)
            with self.past.at(when):
                sla.sweep_protection(self.tenant, now=when)

        return run

    def sweep_sla(self, when: datetime) -> Callable[[], None]:
        def run() -> None:
            with self.past.at(when):
                sla.sweep(self.tenant, now=when)

        return run

    def import_direct(self, day: date) -> Callable[[], None]:
        """The CRM export as it stands on ``day``: opportunities opened by
        then, in the stage they had reached."""

        def run() -> None:
            rows = []
            for row in self.direct:
                opened, close = (
                    date.fromisoformat(row["opened"]),
                    date.fromisoformat(row["close_date"]),
                )
                if opened > day:
                    continue
                stage = row["stage"]
                if close > day:
                    elapsed = (day - opened).days / max((close - opened).days, 1)
                    stage = ("prospecting", "qualification", "proposal", "negotiation")[
                        min(int(elapsed * 4), 3)
                    ]
                rows.append({**row, "stage": stage})
            if not rows:
                return
            when = at(self.tenant, day, 7)
            with self.past.at(when):
                result = direct_import.import_direct_opportunities(
                    tenant=self.tenant,
                    by=self.ctx.users[Role.OPS_ADMIN],
                    text=_csv(rows),
                    now=when,
                )
            assert result.ok, result.errors

        return run

    def finish(self) -> None:
        """Registrations were last changed by their last step (the services
        stamp ``updated_at`` with the clock)."""
        last = (
            RegistrationEvent.objects.filter(registration=OuterRef("pk"))
            .values("registration")
            .annotate(last=Max("created_at"))
            .values("last")
        )
        DealRegistration.objects.filter(created_at__lt=self.now).update(updated_at=Subquery(last))


def _quarter_end(day: date) -> date:
    month = ((day.month - 1) // 3) * 3 + 3
    first_after = date(day.year + month // 12, month % 12 + 1, 1)
    return first_after - timedelta(days=1)


def _csv(rows: list[dict[str, str]]) -> str:
    columns = direct_import.CSV_COLUMNS
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(row.get(c, "") for c in columns))
    return "\n".join(lines) + "\n"


def seed_year(ctx: DemoContext, products: list[ProductLine]) -> None:
    year = Year(ctx, products)
    year.plan()
    year.play()
    year.finish()
    ctx.objects["dealreg.year_plans"] = len(year.plans)
