"""Simulation of a draft of the tier criteria against today's partners,
before ops publish it: for every active partner, the tier it would qualify
for under the draft beside the tier it qualifies for under the published
version (or, with none published, the tier it holds). Reads only.

The figures are measured once, for the union of what both versions ask
(``figures.measure``: one query per kind of figure), and both ladders
decide from them (``rules.Ladder.qualifying``), so the simulation agrees
with what an evaluation would find on the same day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any

from onboarding.models import Certification
from partners.models import Partner, Tier
from prm import format as fmt
from prm.tenancy.models import Tenant

from . import criteria
from .evaluation import evaluated, ladder, published
from .figures import Figures, Needs, measure
from .models import CriteriaVersion, TierCriterion
from .rules import Ladder

Kind = TierCriterion.Kind
# Kinds whose threshold a higher tier should not ask less of.
NUMERIC = (Kind.WON_REVENUE, Kind.APPROVED, Kind.CERTIFIED, Kind.HEALTH)


@dataclass(frozen=True)
class Column:
    """One figure shown for each partner that moves."""

    kind: str
    label: str
    certification_id: Any = None


@dataclass
class Row:
    partner: Partner
    held: Tier
    before: Tier
    after: Tier
    figures: Figures
    cells: list[tuple[str, str]] = field(default_factory=list)

    @property
    def direction(self) -> int:
        return (self.after.rank > self.before.rank) - (self.after.rank < self.before.rank)


@dataclass
class Simulation:
    draft: CriteriaVersion
    published: CriteriaVersion | None
    day: date
    tiers: list[Tier]
    rows: list[Row]
    columns: list[Column]
    warnings: list[str]
    problems: list[str]

    @property
    def baseline_label(self) -> str:
        if self.published is None:
            return "Tier held today"
        return f"Under v{self.published.number} (published)"

    @property
    def up(self) -> int:
        return sum(r.direction > 0 for r in self.rows)

    @property
    def down(self) -> int:
        return sum(r.direction < 0 for r in self.rows)

    @property
    def stay(self) -> int:
        return sum(r.direction == 0 for r in self.rows)

    @property
    def movers(self) -> list[Row]:
        """Partners that would move, the biggest moves first."""
        moving = [r for r in self.rows if r.direction]
        return sorted(
            moving, key=lambda r: (-abs(r.after.rank - r.before.rank), r.partner.name.lower())
        )

    @property
    def matrix(self) -> list[tuple[Tier, list[int], int]]:
        """(tier before, partners per tier after in ``tiers`` order, total)."""
        index = {t.pk: i for i, t in enumerate(self.tiers)}
        counts = [[0] * len(self.tiers) for _ in self.tiers]
        for r in self.rows:
            counts[index[r.before.pk]][index[r.after.pk]] += 1
        return [(t, counts[i], sum(counts[i])) for i, t in enumerate(self.tiers)]

    @property
    def column_totals(self) -> list[int]:
        index = {t.pk: i for i, t in enumerate(self.tiers)}
        totals = [0] * len(self.tiers)
        for r in self.rows:
            totals[index[r.after.pk]] += 1
        return totals


def union(a: Needs, b: Needs) -> Needs:
    return Needs(a.kinds | b.kinds, a.certifications | b.certifications)


def simulate(tenant: Tenant, draft: CriteriaVersion, day: date | None = None) -> Simulation:
    """``draft`` against the tenant's active partners on ``day`` (today)."""
    day = day or tenant.local_today()
    live = published(tenant)
    after = ladder(tenant, draft)
    before = ladder(tenant, live) if live is not None else None
    needs = union(after.needs, before.needs) if before is not None else after.needs
    partners = list(evaluated(tenant).select_related("tier").order_by("name"))
    figures = measure(tenant, day, evaluated(tenant), needs)
    columns = _columns(needs)
    rows = []
    for partner in partners:
        mine = figures.get(partner.pk, Figures())
        held = after.by_id.get(partner.tier_id, partner.tier)
        baseline = (before.qualifying(mine) if before is not None else held) or held
        row = Row(partner, held, baseline, after.qualifying(mine) or held, mine)
        rows.append(row)
    sim = Simulation(
        draft=draft,
        published=live,
        day=day,
        tiers=after.tiers,
        rows=rows,
        columns=columns,
        warnings=inversions(after),
        problems=criteria.problems(draft),
    )
    return sim


def fill_cells(rows: list[Row], columns: list[Column], currency: str) -> None:
    """The figures of ``rows`` (a page of them) as text, in ``columns`` order."""
    for row in rows:
        row.cells = [(c.label, _cell(row.figures, c, currency)) for c in columns]


def _cell(figures: Figures, column: Column, currency: str) -> str:
    if column.kind == Kind.WON_REVENUE:
        text = fmt.money(figures.won_revenue, currency)
        if figures.unconverted_wins:
            text += f" (+{fmt.plural(figures.unconverted_wins, 'win')} without a rate)"
        return text
    if column.kind == Kind.APPROVED:
        return fmt.number(figures.approved)
    if column.kind == Kind.CERTIFIED:
        return fmt.number(figures.certified.get(column.certification_id, 0))
    if column.kind == Kind.AGREEMENTS:
        return "in force" if figures.agreements else "missing"
    if column.kind == Kind.PLAN:
        return "complete" if figures.plan else "in progress"
    return "-" if figures.health is None else fmt.number(figures.health)


def _columns(needs: Needs) -> list[Column]:
    labels: dict[str, str] = {
        Kind.WON_REVENUE: "Won revenue (12 months)",
        Kind.APPROVED: "Approved registrations",
        Kind.AGREEMENTS: "Agreements",
        Kind.PLAN: "Onboarding plan",
        Kind.HEALTH: "Health score",
    }
    names = dict(
        Certification.objects.filter(pk__in=list(needs.certifications)).values_list("pk", "name")
    )
    columns = []
    for kind in Kind.values:
        if kind not in needs.kinds:
            continue
        if kind == Kind.CERTIFIED:
            columns += [
                Column(kind, f"Holding {names.get(pk, 'a certification')}", pk)
                for pk in sorted(needs.certifications, key=lambda pk: names.get(pk, ""))
            ]
        else:
            columns.append(Column(kind, labels[kind]))
    return columns


def inversions(steps: Ladder) -> list[str]:
    """Where a higher tier of ``steps`` asks less than a lower one, for the
    same figure (allowed, but most likely a typing slip)."""
    asked: dict[tuple[str, Any], list[tuple[Tier, Any]]] = {}
    for tier in steps.tiers:
        target = steps.targets.get(tier.pk)
        if target is None:
            continue
        for c in target.criteria.all():
            if c.kind in NUMERIC:
                asked.setdefault((c.kind, c.certification_id), []).append((tier, c))
    found = []
    for entries in asked.values():
        for (low, low_c), (high, high_c) in pairwise(entries):
            if high_c.threshold < low_c.threshold:
                found.append(
                    f"{high} asks less than {low} for “{high_c}”: "
                    f"{fmt.number(high_c.threshold)} against {fmt.number(low_c.threshold)}."
                )
    return found
