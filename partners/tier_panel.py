"""The "Tier history" panel of a partner's staff page (declared in
``partners.declare``): its latest tier changes, newest first."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse

from prm.tenancy.chips import chip

from .models import TierChange

PANEL_ROWS = 10
HISTORY = "tenant_admin:partners_tierchange_changelist"


def direction_chip(change: TierChange) -> str:
    step = change.direction
    if step > 0:
        return chip("up", "approved")
    if step < 0:
        return chip("down", "rejected")
    return chip("first tier" if change.previous_id is None else "same", "draft")


def tier_panel(request: HttpRequest, partner: Model) -> dict[str, Any]:
    """The partner page's "Tier history" panel: the latest changes, newest
    first, and the way to the whole list."""
    changes = list(
        TierChange.objects.filter(partner_id=partner.pk)
        .select_related("tier", "previous", "by")
        .order_by("-effective_on", "-created_at")[: PANEL_ROWS + 1]
    )
    return {
        "changes": [(c, direction_chip(c)) for c in changes[:PANEL_ROWS]],
        "more": len(changes) > PANEL_ROWS,
        "list_url": f"{reverse(HISTORY)}?partner={partner.pk}",
    }
