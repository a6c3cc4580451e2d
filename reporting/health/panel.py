"""The "Health" panel of the partner's staff page (declared in
``reporting.declare``): the latest score, each component's value, weight,
contribution and why, the monthly history of the last 12 months, and the
open at-risk episode with its reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse

from prm import format as fmt
from prm.tenancy.registry import health_components
from prm.tenancy.requests import as_member

from ..models import AtRiskEpisode, HealthScore

HISTORY_MONTHS = 12


@dataclass(frozen=True)
class Month:
    """A month of a partner's history: its last score (the month's closing
    figure), its lowest and highest, and the days scored."""

    month: date
    score: Decimal
    low: Decimal
    high: Decimal
    days: int

    @property
    def label(self) -> str:
        """``Dec 2026``, as the day format names months."""
        return f"{fmt.MONTHS[self.month.month - 1]} {self.month.year}"


def monthly_history(partner: Model, until: date, months: int = HISTORY_MONTHS) -> list[Month]:
    """The partner's scores of the ``months`` calendar months up to
    ``until``, one row per month that has any, oldest first."""
    import pandas as pd  # type: ignore[import-untyped]  # a heavy import, for this page only

    start = (pd.Timestamp(until).to_period("M") - (months - 1)).to_timestamp().date()
    rows = list(
        HealthScore.objects.filter(partner_id=partner.pk, day__gte=start, day__lte=until)
        .order_by("day")
        .values_list("day", "score")
    )
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["day", "score"])
    frame["score"] = frame["score"].astype(float)
    frame["month"] = pd.to_datetime(frame["day"]).dt.to_period("M")
    grouped = frame.groupby("month")["score"].agg(["last", "min", "max", "count"])
    tenth = Decimal("0.1")
    return [
        Month(
            month=period.to_timestamp().date(),
            score=Decimal(str(row["last"])).quantize(tenth),
            low=Decimal(str(row["min"])).quantize(tenth),
            high=Decimal(str(row["max"])).quantize(tenth),
            days=int(row["count"]),
        )
        for period, row in grouped.iterrows()
    ]


def health_panel(request: HttpRequest, partner: Model) -> dict[str, Any]:
    latest = HealthScore.objects.filter(partner_id=partner.pk).order_by("-day").first()
    declared = health_components()
    parts = latest.parts() if latest else []
    history = monthly_history(partner, latest.day) if latest else []
    membership = as_member(request).membership
    return {
        "score": latest,
        "parts": [
            {"part": part, "description": getattr(declared.get(part.key), "description", "")}
            for part in parts
        ],
        "rescaled": any(part.value is None and part.weight > 0 for part in parts),
        "history": history,
        # For a sparkline: the monthly closing scores, oldest first.
        "sparkline": [month.score for month in history],
        "episode": AtRiskEpisode.objects.filter(
            partner_id=partner.pk, closed_on__isnull=True
        ).first(),
        "last_episode": AtRiskEpisode.objects.filter(partner_id=partner.pk, closed_on__isnull=False)
        .order_by("-closed_on")
        .first(),
        "episodes_url": reverse("tenant_admin:reporting_atriskepisode_changelist")
        + f"?partner__id__exact={partner.pk}",
        "settings_url": reverse("tenant_admin:reporting_healthsettings_changelist")
        if membership.has_perm("reporting.view_healthsettings")
        else "",
    }
