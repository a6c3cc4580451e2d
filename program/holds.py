"""Holds: ops keep a partner in a tier, with a reason, until an end date
(a strategic partner through a bad quarter, a new partner placed above the
entry tier while it ramps up). The partner moves to the held tier at once;
evaluations leave it there until the hold ends or is released."""

from __future__ import annotations

from datetime import date, datetime

from django.db import IntegrityError, transaction

from partners import tiers
from partners.models import Partner, Tier
from prm import format as fmt
from prm.tenancy.models import User
from prm.tenancy.services import audit

from .errors import ProgramError
from .models import TierHold, TierStanding


def hold(
    partner: Partner,
    tier: Tier,
    *,
    reason: str,
    ends_on: date,
    by: User | None,
    now: datetime | None = None,
) -> TierHold:
    """Hold ``partner`` in ``tier`` from today through ``ends_on``. Refused
    without a reason, with an end date in the past, or while another hold
    of the partner is open (release it first)."""
    today = partner.tenant.local_today(now)
    reason = reason.strip()
    if not reason:
        raise ProgramError("Say why the partner is held in this tier.", "reason")
    if ends_on < today:
        raise ProgramError(f"The end date must be today ({fmt.day(today)}) or later.", "ends_on")
    if tier.tenant_id != partner.tenant_id:
        raise ProgramError("Choose a tier of this program.", "tier")
    with transaction.atomic():
        if TierHold.objects.filter(partner=partner, released_on__isnull=True).exists():
            raise ProgramError(
                f"{partner.name} is already held in a tier: release that hold first.", "partner"
            )
        try:
            with transaction.atomic():
                row = TierHold.objects.create(
                    tenant_id=partner.tenant_id,
                    partner=partner,
                    tier=tier,
                    reason=reason,
                    starts_on=today,
                    ends_on=ends_on,
                    created_by=by,
                )
        except IntegrityError as exc:  # a hold made at the same moment
            raise ProgramError(f"{partner.name} was just held in a tier.", "partner") from exc
        tiers.set_tier(
            partner,
            tier,
            by=by,
            reason=tiers.Reason.HOLD,
            note=f"Held until {fmt.day(ends_on)}: {reason}",
            now=now,
        )
        # A grace period has no meaning while held.
        TierStanding.objects.filter(partner=partner).update(grace_until=None)
        audit(
            partner.tenant,
            by=by,
            action="program.hold_created",
            obj=partner,
            data={"tier": tier.name, "ends_on": ends_on.isoformat(), "reason": reason},
            now=now,
        )
    return row


def release(row: TierHold, *, by: User | None, now: datetime | None = None) -> TierHold:
    """End a hold early (or record that it ran out: ``by`` None). The
    partner keeps its tier until the next evaluation decides."""
    with transaction.atomic():
        locked = TierHold.objects.select_for_update().get(pk=row.pk)
        if locked.released_on is not None:
            raise ProgramError("This hold has already ended.")
        locked.released_on = locked.tenant.local_today(now)
        locked.released_by = by
        locked.save(update_fields=["released_on", "released_by"])
        audit(
            locked.tenant,
            by=by,
            action="program.hold_released",
            obj=locked.partner,
            data={"tier": str(locked.tier), "early": by is not None},
            now=now,
        )
    return locked
