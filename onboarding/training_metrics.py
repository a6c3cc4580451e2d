"""Training's metrics: people certified, certifications expiring, and
training completion (``shared/METRICS.md``).

Computed from the training records directly (a few queries each, no
rollup). A record counts as it stands now: a certification entered today
that was earned last month counts for last month (the person held it
then). Only confirmed records count; a certification counts from the day
it was earned until the day before it expires (``models.valid_on``).
*People* are the active accounts of partner people (``Membership`` with a
partner, active), as they are now, like the filters. The filters apply to the
partners as they are now (``partners.metrics.partner_q``).

Certified people and certifications expiring drill into the training
records' admin list (the records they count).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from partners.metrics import partner_q
from prm.tenancy.declarations import Filters, Good, Metric, Period, Unit
from prm.tenancy.figures import percent
from prm.tenancy.models import Membership, Tenant

from .models import Certification, TrainingRecord, valid_on

PERMS = ("onboarding.view_trainingrecord",)
TRAINING_RECORDS = "tenant_admin:onboarding_trainingrecord_changelist"


def people(tenant: Tenant, filters: Filters) -> QuerySet[Membership]:
    """Active partner people, as they are now."""
    return Membership.objects.filter(
        partner_q(filters, "partner__"),
        tenant_id=tenant.pk,
        partner__isnull=False,
        is_active=True,
    )


def certified_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[TrainingRecord]:
    """Certifications of active people valid at the period's end."""
    return TrainingRecord.objects.filter(
        valid_on(period.end),
        tenant_id=tenant.pk,
        certification__isnull=False,
        membership__in=people(tenant, filters).values("pk"),
    )


def certified_people(tenant: Tenant, period: Period, filters: Filters) -> int:
    found = certified_rows(tenant, period, filters).aggregate(
        people=Count("membership_id", distinct=True)
    )
    return int(found["people"])


def expiring_rows(tenant: Tenant, period: Period, filters: Filters) -> QuerySet[TrainingRecord]:
    """Confirmed certifications whose expiry day falls in the period."""
    return TrainingRecord.objects.filter(
        partner_q(filters, "partner__"),
        tenant_id=tenant.pk,
        certification__isnull=False,
        status=TrainingRecord.Status.CONFIRMED,
        expires_on__gte=period.start,
        expires_on__lte=period.end,
    )


def certifications_expiring(tenant: Tenant, period: Period, filters: Filters) -> int:
    return expiring_rows(tenant, period, filters).count()


def required_certifications(tenant: Tenant) -> list[Any]:
    """Ids of the certifications required of everyone at a partner: the
    active ones not limited to some functions."""
    return list(
        Certification.objects.filter(tenant_id=tenant.pk, is_active=True, functions=[]).values_list(
            "pk", flat=True
        )
    )


def completion_counts(tenant: Tenant, period: Period, filters: Filters) -> tuple[int, int]:
    """(people holding every required certification at the period's end,
    people required to hold them). Two queries."""
    required = required_certifications(tenant)
    if not required:
        return 0, 0
    held = (
        TrainingRecord.objects.filter(
            valid_on(period.end),
            membership_id=OuterRef("pk"),
            certification_id__in=required,
        )
        .order_by()
        .values("membership_id")
        .annotate(n=Count("certification_id", distinct=True))
        .values("n")
    )
    found = (
        people(tenant, filters)
        .annotate(held=Coalesce(Subquery(held, output_field=IntegerField()), 0))
        .aggregate(complete=Count("pk", filter=Q(held=len(required))), total=Count("pk"))
    )
    return found["complete"], found["total"]


def training_completion(tenant: Tenant, period: Period, filters: Filters) -> Decimal | None:
    return percent(*completion_counts(tenant, period, filters))


RECORDS = "tenant_admin:onboarding_trainingrecord_changelist"

METRICS: list[Metric] = [
    Metric(
        key="onboarding.certified_people",
        name="Certified people",
        definition=(
            "Distinct active people at partners holding at least one valid certification "
            "at the period's end (confirmed, earned by then, not yet expired: a "
            "certification stops counting on its expiry day)."
        ),
        unit=Unit.COUNT,
        good=Good.HIGH,
        compute=certified_people,
        perms=PERMS,
        # The certifications behind the count (a person may hold several).
        rows=certified_rows,
        rows_admin=RECORDS,
    ),
    Metric(
        key="onboarding.certifications_expiring",
        name="Certifications expiring",
        definition=(
            "Confirmed certifications whose expiry day falls in the period (renewed or not)."
        ),
        unit=Unit.COUNT,
        good=Good.LOW,
        compute=certifications_expiring,
        perms=PERMS,
        rows=expiring_rows,
        rows_admin=RECORDS,
    ),
    Metric(
        key="onboarding.training_completion",
        name="Training completion",
        definition=(
            "Active people at partners (as they are now) holding a valid certification (at "
            "the period's end) of every certification required of them ÷ those people. A "
            "certification is required of everyone at a partner when it is active and "
            "not limited to some functions (one for some functions only is required of "
            "nobody: people's functions are not recorded). No such certification: no value."
        ),
        unit=Unit.PERCENT,
        good=Good.HIGH,
        compute=training_completion,
        perms=PERMS,
    ),
]
