"""Tier qualification as data: the tenant's review policy, versions of the
criteria each tier asks for (ops edit a draft, simulate it, publish it),
every partner's standing from the last evaluation (its qualifying tier, the
figures behind it, a grace period if one runs), holds, and the evaluation
runs themselves."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from onboarding.models import Certification
from partners.models import Partner, Tier
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Tenant, TenantOwned, User


class QualificationSettings(TenantOwned):
    """A tenant's tier review policy. One row per tenant (``for_tenant``)."""

    class Schedule(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly (first month of each fiscal quarter)"

    class Upgrades(models.TextChoices):
        AT_ONCE = "at_once", "At once, whenever an evaluation finds them qualified"
        AT_REVIEW = "at_review", "At the scheduled review only"

    schedule = models.CharField(
        "review schedule", max_length=10, choices=Schedule.choices, default=Schedule.QUARTERLY
    )
    review_day = models.PositiveSmallIntegerField(
        "review on day of the month",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
    )
    upgrades = models.CharField(max_length=10, choices=Upgrades.choices, default=Upgrades.AT_ONCE)
    grace_days = models.PositiveSmallIntegerField(
        "grace period before a downgrade (days)",
        default=90,
        validators=[MaxValueValidator(730)],
        help_text="0 moves a partner down at the review that finds it no longer qualifies.",
    )
    notice_days = models.PositiveSmallIntegerField(
        "about to move: within (days)",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="The channel managers' list of partners about to move shows grace periods "
        "ending within this many days and partners this close to the next review.",
    )
    last_review_on = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "tier review policy"
        verbose_name_plural = "tier review policy"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="qualificationsettings_one"),
        ]

    def __str__(self) -> str:
        return "Tier review policy"

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> QualificationSettings:
        row, _ = cls.objects.get_or_create(tenant=tenant)
        return row

    def is_review_day(self, day: date, fiscal_year_start: int = 1) -> bool:
        if day.day != self.review_day:
            return False
        if self.schedule == self.Schedule.MONTHLY:
            return True
        return (day.month - fiscal_year_start) % 3 == 0

    def next_review(self, day: date, fiscal_year_start: int = 1) -> date:
        """The first review day after ``day``."""
        year, month = day.year, day.month
        if day.day >= self.review_day:
            month += 1
        while True:
            if month > 12:
                year, month = year + 1, month - 12
            candidate = date(year, month, self.review_day)
            if self.is_review_day(candidate, fiscal_year_start):
                return candidate
            month += 1


class CriteriaVersion(TenantOwned):
    """One version of the tenant's tier criteria. Ops edit the draft,
    simulate it against today's partners and publish it; evaluations use
    the published version. Earlier versions are kept, retired."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    number = models.PositiveIntegerField(editable=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    note = models.TextField(blank=True, help_text="What changed and why.")
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    published_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "tier criteria"
        verbose_name_plural = "tier criteria"
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="criteriaversion_number"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(status="published"), name="criteriaversion_one_live"
            ),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(status="draft"), name="criteriaversion_one_draft"
            ),
            tenant_key("criteriaversion_tenant_key"),
        ]

    def __str__(self) -> str:
        return f"Tier criteria v{self.number} ({self.get_status_display().lower()})"


class TierTarget(TenantOwned):
    """What one tier asks for in one criteria version: its criteria (each
    required, or counted) and how many counted criteria must be met."""

    version = models.ForeignKey(
        CriteriaVersion, on_delete=models.CASCADE, related_name="targets", db_constraint=False
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    counted_minimum = models.PositiveSmallIntegerField(
        "counted criteria to meet",
        default=0,
        help_text="How many of the criteria not marked required must be met (0: none).",
    )

    class Meta:
        ordering = ["version", "tier__rank"]
        constraints = [
            models.UniqueConstraint(fields=["version", "tier"], name="tiertarget_one_per_tier"),
            tenant_key("tiertarget_tenant_key"),
            *tenant_foreign_keys("tiertarget", "version", "tier"),
        ]

    def __str__(self) -> str:
        return f"{self.tier} (v{self.version.number})"


class TierCriterion(TenantOwned):
    """One thing a tier asks for, measured on the evaluation day."""

    class Kind(models.TextChoices):
        WON_REVENUE = "won_revenue", "Won revenue, trailing 12 months (base currency)"
        APPROVED = "approved", "Approved registrations, trailing 12 months"
        CERTIFIED = "certified", "People holding a certification"
        AGREEMENTS = "agreements", "Agreements in force"
        PLAN = "plan", "Onboarding plan complete"
        HEALTH = "health", "Minimum partner health score"

    # Kinds met or not: no threshold.
    YES_NO = frozenset({Kind.AGREEMENTS, Kind.PLAN})

    target = models.ForeignKey(
        TierTarget, on_delete=models.CASCADE, related_name="criteria", db_constraint=False
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    certification = models.ForeignKey(
        Certification,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="For “People holding a certification”.",
    )
    threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="The amount, count or score to reach (at least). Not used for yes/no criteria.",
    )
    required = models.BooleanField(
        default=True, help_text="Required; otherwise it counts toward the tier's minimum."
    )

    class Meta:
        verbose_name_plural = "tier criteria"
        ordering = ["target", "kind"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="certified", certification__isnull=False)
                | (~Q(kind="certified") & Q(certification__isnull=True)),
                name="tiercriterion_certification_iff_certified",
            ),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="tiercriterion_threshold"),
            models.CheckConstraint(
                condition=~Q(kind="health") | Q(threshold__lte=100),
                name="tiercriterion_health_0_100",
            ),
            models.UniqueConstraint(
                fields=["target", "kind", "certification"],
                nulls_distinct=False,
                name="tiercriterion_once",
            ),
            *tenant_foreign_keys("tiercriterion", "target", "certification"),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.CERTIFIED and self.certification_id:
            return f"{self.certification} holders"
        return self.get_kind_display()


class TierStanding(TenantOwned):
    """A partner's standing after the last evaluation: the tier it
    qualifies for, the figures behind it, and its grace period if one runs
    (it held a higher tier than it qualifies for; it keeps that tier until
    ``grace_until``, then moves down unless it qualifies again)."""

    partner = models.OneToOneField(
        Partner, on_delete=models.CASCADE, related_name="standing", db_constraint=False
    )
    qualifying_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    figures = models.JSONField(default=dict)
    evaluated_on = models.DateField()
    evaluated_at = models.DateTimeField()
    grace_until = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            tenant_key("tierstanding_tenant_key"),
            *tenant_foreign_keys("tierstanding", "partner", "qualifying_tier"),
        ]
        indexes = [models.Index(fields=["tenant", "grace_until"])]

    def __str__(self) -> str:
        return f"{self.partner}: qualifies for {self.qualifying_tier}"


class TierHold(TenantOwned):
    """Ops keep a partner in a tier whatever the evaluation finds, until
    ``ends_on`` (inclusive) or until released early."""

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="tier_holds", db_constraint=False
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    reason = models.TextField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    released_on = models.DateField(null=True, blank=True)
    released_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="tierhold_dates"
            ),
            models.UniqueConstraint(
                fields=["partner"], condition=Q(released_on__isnull=True), name="tierhold_one_open"
            ),
            tenant_key("tierhold_tenant_key"),
            *tenant_foreign_keys("tierhold", "partner", "tier"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} held in {self.tier} until {self.ends_on}"

    def active_on(self, day: date) -> bool:
        return self.released_on is None and self.starts_on <= day <= self.ends_on


class Evaluation(TenantOwned):
    """One evaluation run: when, why, with which criteria, and what moved."""

    class Trigger(models.TextChoices):
        REVIEW = "review", "Scheduled review"
        ON_DEMAND = "on_demand", "Run on demand"
        DAILY = "daily", "Daily check (grace periods and holds ending)"
        EVENT = "event", "A partner's figures rose (a win, an approval, a certification)"

    version = models.ForeignKey(
        CriteriaVersion, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    day = models.DateField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    partners = models.PositiveIntegerField(default=0)
    upgrades = models.PositiveIntegerField(default=0)
    downgrades = models.PositiveIntegerField(default=0)
    graces_opened = models.PositiveIntegerField(default=0)
    graces_closed = models.PositiveIntegerField(default=0)
    pending_upgrades = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        constraints = [*tenant_foreign_keys("evaluation", "version")]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} on {self.day}"

    @property
    def seconds(self) -> Any:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
