"""Daily rollups: the apps' declared facts (``FactSource``) per tenant, day,
partner and the reporting filters' dimensions, so a dashboard sums a few
thousand rows instead of scanning registrations and ledger entries.

- ``PartnerDay``: one row per partner, day and dimensions (the partner's
  region, tier, type and channel manager: as they are now, or as they stood
  that day for the directory's levels). Rows without a partner hold the
  vendor's own figures (its direct pipeline). The dimensions are copies, not
  references: a figure keeps the region it was counted in.
- ``SegmentDay``: the same summed over partners, per day and dimensions;
  what program-wide figures read.
- ``MeasurementDay``: durations whose percentiles a metric shows (one row
  per measured item: they do not add up).
- ``StalePartner``: partners whose rollups must be recomputed, written in
  the transaction that changed their data, so no change is lost if the
  broker or a worker is down (a beat task drains it).
- ``RollupCheck``: what each nightly reconciliation found.

These are derived data: ``reporting.rollups.rebuild`` recreates them from
the apps' tables at any time.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager

from prm.tenancy.models import Tenant

MONEY: dict[str, Any] = {"max_digits": 20, "decimal_places": 3, "default": 0}


DIMENSION_NAMES = ["region_id", "tier_id", "partner_type", "channel_manager_id"]


class Facts(models.Model):
    """The facts every rollup row carries (the apps' ``FactSource.facts``;
    ``tests/reporting/test_rollups.py`` checks each declared fact has its
    column). An app that declares new facts adds their columns here."""

    # Deal registration
    submitted = models.IntegerField(default=0)
    conflicted = models.IntegerField(default=0)
    decided = models.IntegerField(default=0)
    approved = models.IntegerField(default=0)
    sla_met = models.IntegerField(default=0)
    approved_value = models.DecimalField(**MONEY)
    approved_won = models.IntegerField(default=0)
    won = models.IntegerField(default=0)
    closed = models.IntegerField(default=0)
    won_revenue = models.DecimalField(**MONEY)
    open_pipeline = models.DecimalField(**MONEY)
    direct_open = models.DecimalField(**MONEY)
    direct_won = models.DecimalField(**MONEY)
    # Incentives
    earned = models.DecimalField(**MONEY)
    paid = models.DecimalField(**MONEY)
    booked = models.DecimalField(**MONEY)
    # Booked less MDF reimbursements and the payouts' part that paid them.
    booked_incentives = models.DecimalField(**MONEY)
    accruals = models.IntegerField(default=0)
    accruals_corrected = models.IntegerField(default=0)
    paid_accruals = models.IntegerField(default=0)
    paid_within_target = models.IntegerField(default=0)
    # Market development funds
    mdf_allocated = models.DecimalField(**MONEY)
    mdf_allocated_claimed = models.DecimalField(**MONEY)
    mdf_claimed = models.DecimalField(**MONEY)
    mdf_spend = models.DecimalField(**MONEY)
    mdf_paid = models.DecimalField(**MONEY)
    mdf_roi_won = models.DecimalField(**MONEY)
    # Partner directory (levels kept as changes)
    active_delta = models.IntegerField(default=0)
    adopted_delta = models.IntegerField(default=0)
    # Onboarding
    onboarding_enrolled = models.IntegerField(default=0)
    onboarding_activated = models.IntegerField(default=0)
    onboarding_started = models.IntegerField(default=0)
    onboarding_on_target = models.IntegerField(default=0)
    onboarding_steps_due = models.IntegerField(default=0)
    onboarding_steps_on_time = models.IntegerField(default=0)
    onboarding_stalled_delta = models.IntegerField(default=0)

    class Meta:
        abstract = True


class Dimensions(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    region_id = models.UUIDField(null=True)
    tier_id = models.UUIDField(null=True)
    partner_type = models.CharField(max_length=20, blank=True)
    channel_manager_id = models.UUIDField(null=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        abstract = True


class PartnerDay(Dimensions, Facts):
    # The partner's id, a copy like the dimensions, not a reference: a
    # deleted partner's levels (active partners at a past period's end)
    # still count, as the directory's history keeps them. None: the
    # vendor's own rows.
    partner_id = models.UUIDField(null=True)

    class Meta:
        indexes = [
            # Covering what a partner's row on the dashboards sums (its
            # revenue, wins, submissions, open pipeline): read from the index.
            models.Index(
                fields=["tenant", "partner_id", "day"],
                include=["won_revenue", "won", "closed", "submitted", "open_pipeline"],
                name="partnerday_partner",
            ),
            models.Index(fields=["tenant", "day"], name="partnerday_day"),
            # The partners with revenue in a period (top and falling partners):
            # a small part of the rows, read from the index alone.
            models.Index(
                fields=["tenant", "day"],
                include=["partner_id", "won_revenue", *DIMENSION_NAMES],
                condition=~models.Q(won_revenue=0),
                name="partnerday_revenue",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "partner_id",
                    "day",
                    "region_id",
                    "tier_id",
                    "partner_type",
                    "channel_manager_id",
                ],
                nulls_distinct=False,
                name="partnerday_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner_id or 'vendor'} on {self.day}"


class SegmentDay(Dimensions, Facts):
    # False: the vendor's own rows (no partner), which filters do not narrow.
    partners = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"], name="segmentday_day")]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "day",
                    "partners",
                    "region_id",
                    "tier_id",
                    "partner_type",
                    "channel_manager_id",
                ],
                nulls_distinct=False,
                name="segmentday_unique",
            )
        ]

    def __str__(self) -> str:
        return f"segment on {self.day}"


class SegmentTotal(Facts):
    """Each segment's facts summed over every day: a balance at a period's
    end is this total less the days after it, so a figure "as it stands" or
    "up to the period's end" reads a few hundred rows, not every day since
    the program began."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    partners = models.BooleanField(default=True)
    region_id = models.UUIDField(null=True)
    tier_id = models.UUIDField(null=True)
    partner_type = models.CharField(max_length=20, blank=True)
    channel_manager_id = models.UUIDField(null=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "partners",
                    "region_id",
                    "tier_id",
                    "partner_type",
                    "channel_manager_id",
                ],
                nulls_distinct=False,
                name="segmenttotal_unique",
            )
        ]

    def __str__(self) -> str:
        return "segment total"


class MeasurementDay(Dimensions):
    """How many of a partner's measurements of a series on a day had each
    value (days from close to payment repeat; business microseconds rarely)."""

    series = models.CharField(max_length=40)
    partner_id = models.UUIDField()
    value = models.BigIntegerField()
    count = models.IntegerField(default=1)

    class Meta:
        indexes = [
            # Covering: a percentile over a period reads the index only.
            models.Index(
                fields=["tenant", "partner_id", "series", "day"], name="measurement_partner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.series} {self.value} on {self.day}"


class MeasurementSegment(Dimensions):
    """``MeasurementDay`` summed over partners: how many measurements of a
    series each segment had with each value on each day."""

    series = models.CharField(max_length=40)
    value = models.BigIntegerField()
    count = models.IntegerField()

    class Meta:
        indexes = [
            # Covering: a percentile over a period reads the index only.
            models.Index(
                fields=["tenant", "series", "day"],
                include=["value", "count", *DIMENSION_NAMES],
                name="measurementsegment_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.series} {self.value} x{self.count} on {self.day}"


class StalePartner(models.Model):
    """A partner whose rollups wait to be recomputed (``partner_id`` None:
    the vendor's own rows; ``everything``: the whole tenant)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    partner_id = models.UUIDField(null=True)
    everything = models.BooleanField(default=False)
    since = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner_id", "everything"],
                nulls_distinct=False,
                name="stalepartner_unique",
            )
        ]

    def __str__(self) -> str:
        return "everything" if self.everything else str(self.partner_id or "vendor")


class RollupCheck(models.Model):
    """One reconciliation: the recent days recomputed from the apps' tables
    and compared with the rollups; ``drift`` lists what differed (and was
    then corrected)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    ran_at = models.DateTimeField(default=timezone.now)
    first_day = models.DateField()
    partners_checked = models.IntegerField()
    partners_drifted = models.IntegerField()
    drift = models.JSONField(default=list)
    seconds = models.DecimalField(max_digits=10, decimal_places=3)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-ran_at"]
        get_latest_by = "ran_at"

    def __str__(self) -> str:
        return f"check of {self.ran_at:%Y-%m-%d %H:%M}"
