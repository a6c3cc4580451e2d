"""Which tier a partner qualifies for, from a criteria version and its
figures: a pure function of the two, shared by the evaluation, the
simulation and the progress pages.

A tier qualifies when every required criterion is met and at least
``counted_minimum`` of the others are. The highest qualifying tier wins.
The lowest tier is the floor: everyone qualifies for it. A tier the
version sets no criteria for (above the floor) is by invitation: no
evaluation moves a partner into it, or out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from partners.models import Tier

from .figures import Figures, Needs
from .models import CriteriaVersion, TierCriterion, TierTarget

Kind = TierCriterion.Kind


@dataclass(frozen=True)
class Result:
    """One criterion against one partner's figures."""

    criterion: TierCriterion
    value: Decimal | bool | None
    met: bool

    @property
    def shortfall(self) -> Decimal | None:
        """How much is missing (None for a yes/no criterion or no value)."""
        if isinstance(self.value, bool) or self.value is None or self.met:
            return None
        return self.criterion.threshold - self.value


def check(criterion: TierCriterion, figures: Figures) -> Result:
    value = figures.value(criterion)
    if criterion.kind in TierCriterion.YES_NO:
        met = bool(value)
    else:
        met = value is not None and Decimal(value) >= criterion.threshold
    return Result(criterion, value, met)


@dataclass(frozen=True)
class TierCheck:
    """A tier's criteria against one partner's figures."""

    target: TierTarget
    results: tuple[Result, ...]

    @property
    def required(self) -> list[Result]:
        return [r for r in self.results if r.criterion.required]

    @property
    def counted(self) -> list[Result]:
        return [r for r in self.results if not r.criterion.required]

    @property
    def counted_met(self) -> int:
        return sum(r.met for r in self.counted)

    @property
    def counted_needed(self) -> int:
        return min(self.target.counted_minimum, len(self.counted))

    @property
    def qualifies(self) -> bool:
        return all(r.met for r in self.required) and self.counted_met >= self.counted_needed


class Ladder:
    """A criteria version over the tenant's tiers, ready to decide."""

    def __init__(self, version: CriteriaVersion | None, tiers: list[Tier]) -> None:
        self.version = version
        self.tiers = sorted(tiers, key=lambda t: t.rank)
        self.by_id = {t.pk: t for t in self.tiers}
        self.targets: dict[Any, TierTarget] = {}
        if version is not None:
            targets = (
                TierTarget.objects.filter(version=version)
                .select_related("tier")
                .prefetch_related("criteria__certification")
            )
            self.targets = {t.tier_id: t for t in targets}
        # Each target's criteria as a tuple, read once: an evaluation checks
        # them for every partner, several tiers each.
        self.criteria: dict[Any, tuple[TierCriterion, ...]] = {
            tier_id: tuple(t.criteria.all()) for tier_id, t in self.targets.items()
        }
        self.floor = self.tiers[0] if self.tiers else None

    @property
    def needs(self) -> Needs:
        return Needs.of(c for criteria in self.criteria.values() for c in criteria)

    def is_by_invitation(self, tier_id: Any) -> bool:
        return tier_id not in self.targets and (self.floor is None or tier_id != self.floor.pk)

    def check(self, tier: Tier, figures: Figures) -> TierCheck | None:
        target = self.targets.get(tier.pk)
        if target is None:
            return None
        return TierCheck(target, tuple(check(c, figures) for c in self.criteria[tier.pk]))

    def qualifying(self, figures: Figures) -> Tier | None:
        """The highest tier whose criteria ``figures`` meet (the floor when
        none is)."""
        for tier in reversed(self.tiers):
            found = self.check(tier, figures)
            if found is not None and found.qualifies:
                return tier
        return self.floor

    def next_above(self, tier_id: Any) -> Tier | None:
        """The lowest tier above ``tier_id`` that criteria can reach."""
        current = self.by_id.get(tier_id)
        for tier in self.tiers:
            if current is not None and tier.rank <= current.rank:
                continue
            if tier.pk in self.targets:
                return tier
        return None

    def record(self, tier: Tier, figures: Figures) -> dict[str, Any]:
        """The figures behind a decision, as stored on the standing: each
        criterion of ``tier`` with its value and whether it was met."""
        found = self.check(tier, figures)
        rows = []
        for r in found.results if found else ():
            rows.append(
                {
                    "kind": r.criterion.kind,
                    "certification": str(r.criterion.certification_id or ""),
                    "threshold": str(r.criterion.threshold),
                    "required": r.criterion.required,
                    "value": r.value
                    if isinstance(r.value, bool) or r.value is None
                    else str(r.value),
                    "met": r.met,
                }
            )
        return {
            "tier": str(tier.pk),
            "criteria": rows,
            "won_revenue": str(figures.won_revenue),
            "unconverted_wins": figures.unconverted_wins,
        }
