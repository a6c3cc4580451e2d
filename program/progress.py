"""Transparent progress: what stands between a partner and its next tier,
and what keeps it in the one it holds, measured live (the same figures and
rules the evaluation uses, for one partner: a handful of indexed queries).

Each criterion reads as a line ("180,000.00 USD of 250,000.00 USD won in
the last 12 months", "2 of 3 people certified: Cloud Architect") with what
is missing; a tier one criterion away reads as a sentence ("1 more
certified engineer to Gold").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from partners import tiers as tier_history
from partners.models import Partner, Tier, TierChange
from prm import format as fmt

from .evaluation import ladder, open_holds
from .figures import Figures, measure
from .models import QualificationSettings, TierCriterion, TierHold, TierStanding
from .rules import Ladder, Result, TierCheck

Kind = TierCriterion.Kind
ONE = Decimal(1)

# Who a certification's holders are, by the functions it is for.
ENGINEERING = frozenset({"presales", "technical"})
NOUNS = {
    frozenset({"sales"}): ("salesperson", "salespeople"),
    frozenset({"support"}): ("support engineer", "support engineers"),
    frozenset({"marketing"}): ("marketer", "marketers"),
}


def holder_noun(criterion: TierCriterion, count: int) -> str:
    """ "certified engineer(s)" for an engineering certification, else
    "person/people certified in <name>"."""
    functions = frozenset(criterion.certification.functions if criterion.certification else ())
    if functions and functions <= ENGINEERING:
        return "certified engineer" if count == 1 else "certified engineers"
    if functions in NOUNS:
        one, many = NOUNS[functions]
        return f"certified {one if count == 1 else many}"
    name = criterion.certification.name if criterion.certification else "the certification"
    return f"{'person' if count == 1 else 'people'} certified in {name}"


@dataclass(frozen=True)
class Line:
    """One criterion, as the partner reads it."""

    label: str
    standing: str
    missing: str
    met: bool
    required: bool
    share: int  # 0-100, for the progress bar

    @property
    def kind_word(self) -> str:
        return "Required" if self.required else "Counts toward the minimum"


def _money(value: Any, currency: str) -> str:
    return fmt.money(value, currency)


def _share(value: Decimal | bool | None, threshold: Decimal) -> int:
    if isinstance(value, bool):
        return 100 if value else 0
    if value is None:
        return 0
    if threshold <= 0:
        return 100
    return int(min(ONE, value / threshold) * 100)


def line(result: Result, currency: str, figures: Figures) -> Line:
    c, value = result.criterion, result.value
    gap = result.shortfall
    if c.kind == Kind.WON_REVENUE:
        standing = (
            f"{_money(value, currency)} of {_money(c.threshold, currency)} won in the last "
            "12 months"
        )
        if figures.unconverted_wins:
            standing += (
                f" ({fmt.plural(figures.unconverted_wins, 'win')} in a currency without an "
                "exchange rate not counted yet)"
            )
        missing = f"{_money(gap, currency)} more won revenue" if gap else ""
        label = "Won revenue, last 12 months"
    elif c.kind == Kind.APPROVED:
        have = int(value or 0)
        standing = f"{have} of {int(c.threshold)} registrations approved in the last 12 months"
        missing = f"{fmt.plural(int(gap), 'more approved registration')}" if gap else ""
        label = "Approved deal registrations, last 12 months"
    elif c.kind == Kind.CERTIFIED:
        have, need = int(value or 0), int(c.threshold)
        name = c.certification.name if c.certification else ""
        standing = f"{have} of {need} {holder_noun(c, need)}"
        if not holder_noun(c, need).endswith(name):
            standing += f" ({name})"
        missing = f"{int(gap)} more {holder_noun(c, int(gap))}" if gap else ""
        label = f"People certified: {name}"
    elif c.kind == Kind.AGREEMENTS:
        standing = "All agreements accepted" if value else "An agreement is waiting for acceptance"
        missing = "" if value else "accept the program's agreements"
        label = "Agreements in force"
    elif c.kind == Kind.PLAN:
        standing = "Onboarding complete" if value else "Onboarding plan still in progress"
        missing = "" if value else "complete the onboarding plan"
        label = "Onboarding plan complete"
    else:
        if value is None:
            standing = f"No health score yet (needs {fmt.number(c.threshold)})"
        else:
            standing = f"Health score {fmt.number(value)} of {fmt.number(c.threshold)} needed"
        missing = f"a health score of {fmt.number(c.threshold)}" if not result.met else ""
        label = "Partner health score"
    return Line(
        label=label,
        standing=standing,
        missing=missing,
        met=result.met,
        required=c.required,
        share=_share(value, c.threshold),
    )


@dataclass
class Step:
    """A tier's criteria against the partner's figures."""

    tier: Tier
    lines: list[Line]
    check: TierCheck

    @property
    def qualifies(self) -> bool:
        return self.check.qualifies

    @property
    def counted_needed(self) -> int:
        return self.check.counted_needed

    @property
    def counted_met(self) -> int:
        return self.check.counted_met

    @property
    def still_to_do(self) -> list[str]:
        """What is missing, shortest path: every unmet required criterion,
        and the counted ones still needed (nearest first)."""
        todo = [ln.missing for ln in self.lines if ln.required and not ln.met]
        short = self.check.counted_needed - self.check.counted_met
        if short > 0:
            unmet = sorted(
                (ln for ln in self.lines if not ln.required and not ln.met),
                key=lambda ln: -ln.share,
            )
            todo += [ln.missing for ln in unmet[:short]]
        return [t for t in todo if t]

    @property
    def summary(self) -> str:
        """ "1 more certified engineer to Gold"; "Gold: all criteria met"."""
        todo = self.still_to_do
        if not todo:
            return f"{self.tier}: all criteria met"
        if len(todo) == 1:
            return f"{todo[0][0].upper()}{todo[0][1:]} to {self.tier}"
        return f"{len(todo)} things to do for {self.tier}: " + "; ".join(todo)


@dataclass
class Progress:
    partner: Partner
    day: date
    tier: Tier
    published: bool
    keep: Step | None = None
    next: Step | None = None
    by_invitation: bool = False
    hold: TierHold | None = None
    grace_until: date | None = None
    grace_to: Tier | None = None
    upgrade_waits_until: date | None = None
    qualifying: Tier | None = None
    tiers: list[Tier] = field(default_factory=list)
    history: list[TierChange] = field(default_factory=list)

    @property
    def headline(self) -> str:
        if self.next is not None:
            return self.next.summary
        if self.keep is not None:
            return f"{self.tier} is the highest tier criteria can reach"
        return f"You are in {self.tier}"


def _step(steps: Ladder, tier: Tier | None, figures: Figures, currency: str) -> Step | None:
    if tier is None:
        return None
    found = steps.check(tier, figures)
    if found is None:
        return None
    return Step(tier, [line(r, currency, figures) for r in found.results], found)


def build(partner: Partner, *, day: date | None = None) -> Progress:
    """``partner``'s progress on ``day`` (default today), live."""
    tenant = partner.tenant
    day = day or tenant.local_today()
    steps = ladder(tenant)
    current = steps.by_id.get(partner.tier_id, partner.tier)
    found = Progress(
        partner=partner,
        day=day,
        tier=current,
        published=steps.version is not None,
        tiers=steps.tiers,
        history=tier_history.history(partner)[:12],
    )
    if steps.version is None:
        return found
    figures = measure(tenant, day, [partner.pk], steps.needs)[partner.pk]
    currency = tenant.base_currency
    found.qualifying = steps.qualifying(figures)
    found.keep = _step(steps, current, figures, currency)
    found.next = _step(steps, steps.next_above(current.pk), figures, currency)
    found.by_invitation = steps.is_by_invitation(current.pk)
    found.hold = open_holds(day, [partner.pk]).get(partner.pk)
    standing = TierStanding.objects.filter(partner=partner).first()
    if standing is not None and standing.grace_until and found.hold is None:
        found.grace_until = standing.grace_until
        found.grace_to = standing.qualifying_tier
    if (
        found.qualifying is not None
        and found.qualifying.rank > current.rank
        and found.hold is None
        and not found.by_invitation
    ):
        policy = QualificationSettings.for_tenant(tenant)
        if policy.upgrades == policy.Upgrades.AT_REVIEW:
            found.upgrade_waits_until = policy.next_review(day, tenant.fiscal_year_start)
    return found
