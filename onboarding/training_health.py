"""Training's part of the partner health score: certification coverage,
the share of a partner's active people holding at least one valid
certification. It reads only what was known by the end of the day: people
whose accounts existed then and certifications confirmed by then."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count

from prm import format as fmt
from prm.tenancy.declarations import HealthComponent, HealthValue, Period, Reading
from prm.tenancy.models import Membership, Tenant

from .models import TrainingRecord, valid_on

THOUSANDTH = Decimal("0.001")


def coverage(tenant: Tenant, day: date, partner_ids: Any) -> dict[Any, HealthValue]:
    """Partner id → the share of its active people (accounts made by the end
    of ``day``) holding a certification valid on ``day`` and confirmed by
    then. A partner without people has no data. Two queries."""
    after = Period(day, day).bounds(tenant)[1]
    everyone = Membership.objects.filter(
        tenant_id=tenant.pk,
        partner_id__in=partner_ids,
        is_active=True,
        created_at__lt=after,
    )
    sizes = Counter(dict(everyone.values_list("partner_id").annotate(n=Count("pk"))))
    held = dict(
        TrainingRecord.objects.filter(
            valid_on(day),
            tenant_id=tenant.pk,
            certification__isnull=False,
            decided_at__lt=after,
            membership__in=everyone.values("pk"),
        )
        .values_list("partner_id")
        .annotate(n=Count("membership_id", distinct=True))
    )
    found: dict[Any, HealthValue] = {}
    for partner_id, size in sizes.items():
        certified = held.get(partner_id, 0)
        value = (Decimal(certified) / size).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)
        found[partner_id] = Reading(
            value, f"{certified} of {fmt.plural(size, 'person,people')} hold a valid certification"
        )
    return found


HEALTH_COMPONENTS = (
    HealthComponent(
        key="onboarding.certification_coverage",
        name="Certification coverage",
        description=(
            "The share of the partner's active people holding at least one valid "
            "certification (confirmed, not expired). A partner without people: no data."
        ),
        default_weight=10,
        compute=coverage,
    ),
)
