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
    kind: str = ""

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
        need = int(c.threshold)
        standing = (
            f"{have} of {need} registrations approved in the last 12 months"
            if have <= need
            else f"{have} registrations approved in the last 12 months, {need} needed"
        )
        missing = f"{fmt.plural(int(gap), 'more approved registration')}" if gap else ""
        label = "Approved deal registrations, last 12 months"
    elif c.kind == Kind.CERTIFIED:
        have, need = int(value or 0), int(c.threshold)
        name = c.certification.name if c.certification else ""
        if have > need:  # "2 certified engineers, 1 needed", not "2 of 1"
            standing = f"{have} {holder_noun(c, have)}, {need} needed"
        else:
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
        kind=c.kind,
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
    def met_count(self) -> int:
        return sum(ln.met for ln in self.lines)

    @property
    def required_lines(self) -> list[Line]:
        return [ln for ln in self.lines if ln.required]

    @property
    def counted_lines(self) -> list[Line]:
        return [ln for ln in self.lines if not ln.required]

    @property
    def counted_phrase(self) -> str:
        """ "2 of 3 of these" (needed of the counted criteria)."""
        return f"{self.counted_needed} of {len(self.counted_lines)} of these"

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(ln.kind for ln in self.lines)

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
        return summary(self.tier, self.still_to_do)

    @property
    def keep_summary(self) -> str:
        """ "1 more certified engineer to keep Gold"."""
        return summary(self.tier, self.still_to_do, keep=True)


def summary(tier: Tier, todo: list[str], *, keep: bool = False) -> str:
    """What is missing for ``tier`` in one sentence."""
    goal = f"keep {tier}" if keep else str(tier)
    if not todo:
        return f"{tier}: all criteria met"
    if len(todo) == 1:
        return f"{todo[0][0].upper()}{todo[0][1:]} to {goal}"
    return f"{len(todo)} things to do for {'keeping ' if keep else ''}{tier}: " + "; ".join(todo)


@dataclass(frozen=True)
class Rung:
    """One tier of the ladder as the partner reads it."""

    tier: Tier
    current: bool
    by_invitation: bool


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
    hold_tier: Tier | None = None
    grace_until: date | None = None
    grace_to: Tier | None = None
    upgrade_waits_until: date | None = None
    qualifying: Tier | None = None
    standing: TierStanding | None = None
    evaluated_tier: Tier | None = None  # what the last evaluation found
    tiers: list[Tier] = field(default_factory=list)
    with_criteria: frozenset[Any] = frozenset()
    history: list[TierChange] = field(default_factory=list)

    @property
    def in_grace(self) -> bool:
        return self.grace_until is not None

    @property
    def headline(self) -> str:
        if not self.published:
            return f"You are in {self.tier}: tiers are assigned by the vendor"
        if self.in_grace and self.keep is not None and not self.keep.qualifies:
            return self.keep.keep_summary
        if self.upgrade_waits_until is not None and self.qualifying is not None:
            return f"You qualify for {self.qualifying}: it applies at the next review"
        if self.next is not None:
            return self.next.summary
        if self.keep is not None:
            return f"{self.tier} is the highest tier criteria can reach"
        return f"You are in {self.tier}"

    @property
    def rungs(self) -> list[Rung]:
        """The ladder, highest tier first."""
        floor = self.tiers[0].pk if self.tiers else None
        return [
            Rung(
                tier=t,
                current=t.pk == self.tier.pk,
                by_invitation=self.published and t.pk not in self.with_criteria and t.pk != floor,
            )
            for t in reversed(self.tiers)
        ]

    @property
    def links(self) -> frozenset[str]:
        """The kinds of criteria shown (the page links where to act on them)."""
        kinds: set[str] = set()
        for step in (self.keep, self.next):
            if step is not None:
                kinds |= step.kinds
        return frozenset(kinds)


def _step(steps: Ladder, tier: Tier | None, figures: Figures, currency: str) -> Step | None:
    if tier is None:
        return None
    found = steps.check(tier, figures)
    if found is None:
        return None
    return Step(tier, [line(r, currency, figures) for r in found.results], found)


HISTORY = 12


def recent_history(partner: Partner) -> list[TierChange]:
    """The partner's latest tier changes, newest first (one query)."""
    return list(
        TierChange.objects.filter(partner_id=partner.pk)
        .select_related("tier", "previous")
        .order_by("-effective_on", "-created_at")[:HISTORY]
    )


def build(partner: Partner, *, day: date | None = None) -> Progress:
    """``partner``'s progress on ``day`` (default today), live: a constant
    number of queries (the ladder, one per kind of figure, the hold, the
    standing, the policy when an upgrade waits, the history)."""
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
        with_criteria=frozenset(steps.targets),
        history=recent_history(partner),
    )
    if steps.version is None:
        return found
    figures = measure(tenant, day, [partner], steps.needs)[partner.pk]
    currency = tenant.base_currency
    found.qualifying = steps.qualifying(figures)
    found.keep = _step(steps, current, figures, currency)
    found.next = _step(steps, steps.next_above(current.pk), figures, currency)
    found.by_invitation = steps.is_by_invitation(current.pk)
    found.hold = open_holds(day, [partner.pk]).get(partner.pk)
    if found.hold is not None:
        found.hold_tier = steps.by_id.get(found.hold.tier_id)
    standing = TierStanding.objects.filter(partner_id=partner.pk).first()
    found.standing = standing
    if standing is not None:
        found.evaluated_tier = steps.by_id.get(standing.qualifying_tier_id)
        if standing.grace_until and found.hold is None:
            found.grace_until = standing.grace_until
            found.grace_to = found.evaluated_tier
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
