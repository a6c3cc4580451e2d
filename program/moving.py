"""Partners about to move: those whose last evaluation found a tier other
than the one they hold and whom the next evaluation or review will move (an
upgrade waiting for the review, a grace period running or just ended).
Partners held in their tier by ops, and those in a tier by invitation whom
evaluations leave alone, are not about to move. Shared by the staff list
(``admin_standings``) and the staff home card (``staff_cards``)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from partners.models import Partner, Tier
from prm.tenancy.models import Tenant

from .models import CriteriaVersion, QualificationSettings, TierHold, TierStanding, TierTarget

DEFAULT_NOTICE_DAYS = QualificationSettings._meta.get_field("notice_days").get_default()


def up() -> Q:
    return Q(qualifying_tier__rank__gt=F("partner__tier__rank"))


def down() -> Q:
    return Q(grace_until__isnull=False)


def movers(tenant: Tenant, day: date) -> QuerySet[TierStanding]:
    """The standings of ``tenant``'s active partners about to move on or
    after ``day`` (one query with the partner and both tiers)."""
    held = TierHold.objects.filter(
        partner_id=OuterRef("partner_id"),
        released_on__isnull=True,
        starts_on__lte=day,
        ends_on__gte=day,
    )
    with_criteria = TierTarget.objects.filter(
        version__status=CriteriaVersion.Status.PUBLISHED, tier_id=OuterRef("partner__tier_id")
    )
    floor = Tier.objects.filter(tenant_id=tenant.pk).order_by("rank").values("rank")[:1]
    movable = Exists(with_criteria) | Q(partner__tier__rank=Subquery(floor))
    return (
        TierStanding.objects.filter(tenant_id=tenant.pk, partner__status=Partner.Status.ACTIVE)
        .filter((up() & ~Exists(held) & movable) | down())
        .select_related("partner", "partner__tier", "qualifying_tier")
    )


def notice_days(tenant: Tenant) -> int:
    """The policy's "about to move: within (days)" (its default before ops
    set a policy); one query, no write."""
    found = (
        QualificationSettings.objects.filter(tenant_id=tenant.pk)
        .values_list("notice_days", flat=True)
        .first()
    )
    return found if found is not None else int(DEFAULT_NOTICE_DAYS)


def ending_by(day: date, days: int) -> Q:
    """Grace periods whose last day falls within ``days`` of ``day``."""
    return Q(grace_until__isnull=False, grace_until__lte=day + timedelta(days=days))
