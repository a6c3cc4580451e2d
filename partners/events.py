"""The partner directory's webhook events (declared in ``declare.py``),
sent inside the transaction of the change they report."""

from collections.abc import Iterable

from prm.tenancy.models import Tenant
from prm.webhooks.events import emit, emit_many

from .models import Partner, TierChange
from .serializers import PartnerSerializer, TierChangeSerializer

CREATED = "partner.created"
TIER_CHANGED = "partner.tier_changed"


def partner_created(partner: Partner) -> None:
    emit(partner.tenant, CREATED, PartnerSerializer(partner).data)


def tier_changed(change: TierChange) -> None:
    emit(change.partner.tenant, TIER_CHANGED, TierChangeSerializer(change).data)


def tiers_changed(tenant: Tenant, changes: Iterable[TierChange]) -> int:
    """``tier_changed`` for a bulk job's moves, written in bulk."""
    return emit_many(tenant, TIER_CHANGED, (TierChangeSerializer(c).data for c in changes))
