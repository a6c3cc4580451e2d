"""What the partner portal shows of tier progress outside its own page: the
"Tier progress" menu entry and the partner's home card. Constants for
``program.declare``: ``NAV`` goes into ``PRMApp.nav``, ``CARDS`` into
``PRMApp.cards``.

The card runs on every home page, so it does not measure anything live: it
reads the partner's standing from the last evaluation and the published
criteria (two queries) and says, from the figures stored on the standing,
what the next tier still needs ("1 more certified engineer to Gold"). The
page itself measures live.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prm.tenancy.declarations import Card, NavEntry

from . import progress
from .figures import Figures
from .models import CriteriaVersion, TierCriterion, TierStanding
from .rules import TierCheck, check

if TYPE_CHECKING:
    from partners.models import Tier
    from prm.tenancy.models import Membership

PERM = "portal.tiers"
Kind = TierCriterion.Kind


@dataclass
class Stored:
    """The figures stored on a standing, and which of them were measured."""

    figures: Figures
    known: set[tuple[str, str]]

    @classmethod
    def of(cls, record: dict[str, Any]) -> Stored:
        figures = Figures(
            won_revenue=Decimal(record.get("won_revenue") or "0"),
            unconverted_wins=int(record.get("unconverted_wins") or 0),
        )
        known: set[tuple[str, str]] = {(str(Kind.WON_REVENUE), "")}
        rows = list(record.get("criteria", [])) + list(record.get("next", {}).get("criteria", []))
        for row in rows:
            kind, value, cert = row.get("kind"), row.get("value"), row.get("certification") or ""
            if kind == Kind.APPROVED:
                figures.approved = int(Decimal(value or 0))
            elif kind == Kind.CERTIFIED and cert:
                figures.certified[uuid.UUID(cert)] = int(Decimal(value or 0))
            elif kind == Kind.AGREEMENTS:
                figures.agreements = bool(value)
            elif kind == Kind.PLAN:
                figures.plan = bool(value)
            elif kind == Kind.HEALTH:
                figures.health = None if value is None else Decimal(value)
            else:
                continue
            known.add((str(kind), cert if kind == Kind.CERTIFIED else ""))
        return cls(figures, known)

    def step(
        self, tier: Tier, criteria: list[TierCriterion], currency: str
    ) -> progress.Step | None:
        """``tier``'s criteria against the stored figures (None when one of
        them was not measured then)."""
        if not criteria:
            return None
        for c in criteria:
            key = str(c.certification_id) if c.kind == Kind.CERTIFIED else ""
            if (str(c.kind), key) not in self.known:
                return None
        results = tuple(check(c, self.figures) for c in criteria)
        lines = [progress.line(r, currency, self.figures) for r in results]
        return progress.Step(tier, lines, TierCheck(criteria[0].target, results))


def tier_card(membership: Membership) -> dict[str, Any]:
    """The tier held and what the next one still needs, as of the last
    evaluation: two queries (the standing, the published criteria)."""
    partner = membership.partner
    assert partner is not None  # a partner role's card
    tier = partner.tier
    standing = (
        TierStanding.objects.filter(partner_id=partner.pk).select_related("qualifying_tier").first()
    )
    criteria = list(
        TierCriterion.objects.filter(target__version__status=CriteriaVersion.Status.PUBLISHED)
        .select_related("target__tier", "certification")
        .order_by("target__tier__rank", "kind")
    )
    by_tier: dict[Any, list[TierCriterion]] = defaultdict(list)
    for c in criteria:
        by_tier[c.target.tier_id].append(c)
    above = [c.target.tier for c in criteria if c.target.tier.rank > tier.rank]
    found: dict[str, Any] = {"tier": tier, "standing": standing, "headline": "", "urgent": False}
    if not criteria:
        found["headline"] = "Tiers are assigned by the vendor."
        return found
    if standing is None:
        found["headline"] = "See what each tier asks for and where you stand."
        return found
    stored = Stored.of(standing.figures)
    currency = membership.tenant.base_currency
    if standing.grace_until is not None:
        keep = stored.step(tier, by_tier.get(tier.pk, []), currency)
        found["urgent"] = True
        found["headline"] = (
            keep.keep_summary
            if keep is not None and not keep.qualifies
            else f"Meet the criteria of {tier} to keep it"
        )
        return found
    if standing.qualifying_tier.rank > tier.rank:
        found["headline"] = f"You qualify for {standing.qualifying_tier}"
        return found
    if not above:
        found["headline"] = f"{tier} is the highest tier criteria can reach"
        return found
    nxt = stored.step(above[0], by_tier[above[0].pk], currency)
    found["headline"] = nxt.summary if nxt is not None else f"Next: {above[0]}"
    return found


NAV = (NavEntry("program:progress", "Tier progress", (PERM,), order=160),)

CARDS = (
    Card(
        key="program.tier",
        title="Your tier",
        url_name="program:progress",
        perms=(PERM,),
        template="program/cards/tier.html",
        context=tier_card,
        order=35,
    ),
)
