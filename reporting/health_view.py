"""Partner health on the dashboards: each partner's latest score, who is
at risk and why, and how scores are spread."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Subquery

from partners.metrics import partner_q
from partners.models import Partner
from prm.charts import Chart, Series
from prm.tenancy.declarations import Filters, Unit
from prm.tenancy.models import Tenant

from .exports import Column, Table
from .health import current_scores
from .models import AtRiskEpisode, HealthScore

BANDS = ((0, 20), (20, 40), (40, 60), (60, 80), (80, 101))


@dataclass(frozen=True)
class Latest:
    score: Any
    at_risk: bool


def latest_scores(tenant: Tenant) -> dict[Any, Latest]:
    """partner id → its score on the last day scored
    (``health.current_scores``) and whether an at-risk episode is open."""
    scores = current_scores(tenant).values_list("partner_id", "score")
    risky = set(
        AtRiskEpisode.objects.filter(tenant_id=tenant.pk, closed_on__isnull=True).values_list(
            "partner_id", flat=True
        )
    )
    found = {partner: Latest(score, partner in risky) for partner, score in scores}
    for partner in risky - found.keys():
        found[partner] = Latest(None, True)
    return found


def at_risk_table(tenant: Tenant, filters: Filters) -> Table:
    """The partners flagged at risk now (open episodes), lowest score first."""
    latest = HealthScore.objects.filter(partner_id=OuterRef("partner_id")).order_by("-day")
    episodes = (
        AtRiskEpisode.objects.filter(tenant_id=tenant.pk, closed_on__isnull=True)
        .filter(partner_q(filters, "partner__"))
        .annotate(score=Subquery(latest.values("score")[:1]))
        .select_related("partner__channel_manager")
        .order_by("score", "partner__name")[:50]
    )
    return Table(
        key="at_risk",
        title="Partners at risk",
        columns=[
            Column("partner", "Partner", None),
            Column("score", "Health score", Unit.COUNT),
            Column("since", "At risk since", None),
            Column("reasons", "Why", None),
            Column("manager", "Channel manager", None),
        ],
        rows=[
            {
                "partner": e.partner.name,
                "partner_id": e.partner_id,
                "score": e.score,
                "since": e.opened_on,
                "reasons": "; ".join(r.get("text", "") for r in e.reasons),
                "manager": (
                    e.partner.channel_manager.get_full_name() if e.partner.channel_manager else ""
                ),
            }
            for e in episodes
        ],
    )


def distribution(tenant: Tenant, filters: Filters) -> Chart:
    """Active partners matching the filters by the band of their score on
    the last day scored."""
    wanted = Partner.objects.filter(tenant_id=tenant.pk, status=Partner.Status.ACTIVE).filter(
        partner_q(filters)
    )
    latest = current_scores(tenant).filter(partner__in=wanted).values_list("score", flat=True)
    counts: list[Decimal | int | None] = [0] * len(BANDS)
    for score in latest:
        for index, (low, high) in enumerate(BANDS):
            if low <= score < high:
                counts[index] = (counts[index] or 0) + 1
    return Chart(
        key="health",
        title="Partner health scores",
        kind="bar",
        unit=Unit.COUNT,
        labels=[f"{low} to {min(high, 100) - (0 if high > 100 else 1)}" for low, high in BANDS],
        series=[Series("Partners", counts)],
        description="Active partners by their latest health score (0 to 100).",
    )
