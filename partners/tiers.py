"""Effective-dated tiers: which tier a partner held on a given day.

``Partner.tier`` is the tier held today; ``TierChange`` rows are the dated
history behind it. Whatever depends on a tier at a moment (an incentive's
eligibility on the deal's close date, deal protection on the day the deal
was registered, an MDF allocation on the day its budget starts) asks
``tier_on`` (one partner) or ``timelines`` (many partners, one query) here,
never ``partner.tier``.

Every write of a partner's tier goes through ``set_tier``: it moves
``Partner.tier`` and writes the dated row in the same transaction.
"""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import transaction

from prm.tenancy.models import User
from prm.tenancy.services import audit

from . import events
from .models import Partner, Tier, TierChange

Reason = TierChange.Reason


@dataclass
class Timeline:
    """One partner's tier history as (effective day, tier id) pairs in order.

    Before its first row a partner held its first row's tier (the tier it
    joined at); a partner without rows holds ``current`` on every day."""

    current: uuid.UUID | None
    days: list[date] = field(default_factory=list)
    tiers: list[uuid.UUID] = field(default_factory=list)

    def on(self, day: date) -> uuid.UUID | None:
        if not self.days:
            return self.current
        at = bisect.bisect_right(self.days, day) - 1
        return self.tiers[max(at, 0)]


def timelines(partners: Iterable[Any]) -> dict[Any, Timeline]:
    """The tier timelines of ``partners`` (Partner objects, or
    ``(id, tier_id)`` pairs) in one query."""
    found: dict[Any, Timeline] = {}
    for p in partners:
        pk, tier_id = (p.pk, p.tier_id) if isinstance(p, Partner) else p
        found[pk] = Timeline(current=tier_id)
    if not found:
        return found
    rows = (
        TierChange.objects.filter(partner_id__in=list(found))
        .order_by("partner_id", "effective_on", "id")
        .values_list("partner_id", "effective_on", "tier_id")
    )
    for partner_id, day, tier_id in rows:
        line = found[partner_id]
        if line.days and line.days[-1] == day:
            line.tiers[-1] = tier_id  # the day's last change is what held
        else:
            line.days.append(day)
            line.tiers.append(tier_id)
    return found


def tier_id_on(partner: Partner, day: date) -> uuid.UUID | None:
    return timelines([partner])[partner.pk].on(day)


def tier_on(partner: Partner, day: date) -> Tier:
    """The tier ``partner`` held on ``day`` (two queries; for many partners
    use ``timelines``)."""
    tier_id = tier_id_on(partner, day)
    if tier_id is None or tier_id == partner.tier_id:
        return partner.tier
    return Tier.objects.get(pk=tier_id, tenant_id=partner.tenant_id)


def tier_ids_on(partners: Iterable[Any], day: date) -> dict[Any, uuid.UUID | None]:
    return {pk: line.on(day) for pk, line in timelines(partners).items()}


def record_joined(partner: Partner, *, by: User | None, now: datetime | None = None) -> TierChange:
    """The first row of a new partner's history: its tier from today."""
    return TierChange.objects.create(
        tenant_id=partner.tenant_id,
        partner=partner,
        tier_id=partner.tier_id,
        effective_on=partner.tenant.local_today(now),
        reason=Reason.JOINED,
        by=by,
    )


def record_change(
    partner: Partner,
    previous_id: uuid.UUID | None,
    *,
    by: User | None,
    reason: str,
    note: str = "",
    now: datetime | None = None,
) -> TierChange:
    """The dated row for a tier ``partner`` (already saved) moved to today,
    and its ``partner.tier_changed`` webhook event."""
    change = TierChange.objects.create(
        tenant_id=partner.tenant_id,
        partner=partner,
        tier_id=partner.tier_id,
        previous_id=previous_id,
        effective_on=partner.tenant.local_today(now),
        reason=reason,
        note=note,
        by=by,
    )
    events.tier_changed(change)
    return change


def set_tier(
    partner: Partner,
    tier: Tier,
    *,
    by: User | None,
    reason: str,
    note: str = "",
    now: datetime | None = None,
) -> TierChange | None:
    """Move ``partner`` to ``tier`` from today, with its history row and an
    audit entry. Nothing happens (None) when it already holds ``tier``."""
    if tier.tenant_id != partner.tenant_id:
        raise ValueError("A tier of another program.")
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk, tenant=partner.tenant_id)
        if locked.tier_id == tier.pk:
            partner.tier_id = tier.pk
            return None
        previous = locked.tier_id
        locked.tier = tier
        locked.save(update_fields=["tier", "updated_at"])
        change = record_change(locked, previous, by=by, reason=reason, note=note, now=now)
        audit(
            locked.tenant,
            by=by,
            action="partner.tier_changed",
            obj=locked,
            data={"from": str(previous), "to": str(tier.pk), "reason": reason, "note": note},
        )
    partner.tier = tier
    return change


def history(partner: Partner) -> list[TierChange]:
    """The partner's tier history, newest first."""
    return list(
        TierChange.objects.filter(partner=partner)
        .select_related("tier", "previous", "by")
        .order_by("-effective_on", "-id")
    )


def moves_by_partner(changes: Iterable[TierChange]) -> dict[Any, list[TierChange]]:
    grouped: dict[Any, list[TierChange]] = defaultdict(list)
    for change in changes:
        grouped[change.partner_id].append(change)
    return grouped
