"""The incentive impact of a draft of the tier criteria: for each published
incentive plan version, what partners would have earned over the trailing
12 months in the tier the draft puts them in, against what they earned in
the tiers they actually held (``incentives.preview.preview`` twice: its
``tiers=`` function stands for the tier history). Partners the simulation
does not cover (not active) keep their history. Reads only; a handful of
queries per plan version, whatever the number of partners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from incentives import preview
from incentives.models import PlanVersion
from partners.models import Partner
from partners.tiers import timelines

from .figures import year_before
from .simulation import Simulation


@dataclass(frozen=True)
class Impact:
    """One plan version over the range: paid as held, paid as simulated."""

    version: PlanVersion
    as_held: Decimal
    simulated: Decimal
    partners_changed: int
    incomplete: bool

    @property
    def difference(self) -> Decimal:
        return self.simulated - self.as_held


@dataclass(frozen=True)
class ImpactReport:
    start: date
    end: date
    impacts: list[Impact]

    @property
    def as_held(self) -> Decimal:
        return sum((i.as_held for i in self.impacts), Decimal("0"))

    @property
    def simulated(self) -> Decimal:
        return sum((i.simulated for i in self.impacts), Decimal("0"))

    @property
    def difference(self) -> Decimal:
        return self.simulated - self.as_held


def incentive_impact(sim: Simulation) -> ImpactReport:
    tenant = sim.draft.tenant
    end = sim.day
    start = year_before(end) + timedelta(days=1)
    versions = list(
        PlanVersion.objects.filter(tenant_id=tenant.pk, status=PlanVersion.Status.PUBLISHED)
        .select_related("plan")
        .order_by("plan__name", "number")
    )
    if not versions:
        return ImpactReport(start, end, [])
    drafted = {r.partner.pk: r.after.pk for r in sim.rows}
    others = timelines(
        Partner.objects.filter(tenant_id=tenant.pk)
        .exclude(pk__in=list(drafted))
        .values_list("pk", "tier_id")
    )

    def simulated_tier(partner_id: Any, day: date) -> Any:
        if partner_id in drafted:
            return drafted[partner_id]
        return others[partner_id].on(day)

    impacts = []
    for version in versions:
        held = preview.preview(version, start, end)
        moved = preview.preview(version, start, end, tiers=simulated_tier)
        paid_held = {r.partner_id: r.would_pay for r in held.rows}
        paid_moved = {r.partner_id: r.would_pay for r in moved.rows}
        changed = sum(
            paid_held.get(pk, Decimal("0")) != paid_moved.get(pk, Decimal("0"))
            for pk in set(paid_held) | set(paid_moved)
        )
        impacts.append(
            Impact(
                version=version,
                as_held=held.totals.would_pay,
                simulated=moved.totals.would_pay,
                partners_changed=changed,
                incomplete=bool(held.problems or moved.problems),
            )
        )
    return ImpactReport(start, end, impacts)
