"""Plans and their versioned rules (brackets, eligibility)."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from dealreg.models import ProductLine
from partners.models import Partner, Region, Tier
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import TenantOwned, User

from ..periods import Period
from .fields import MONEY, PERCENT


class Plan(TenantOwned):
    class Kind(models.TextChoices):
        COMMISSION = "commission", "Commission (per won deal)"
        REBATE = "rebate", "Rebate (on period volume)"
        SPIFF = "spiff", "SPIFF (bonus campaign)"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(
        default=True, help_text="Inactive plans produce no new entries."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="plan_name_unique"),
            tenant_key("plan_tenant_key"),
        ]

    def __str__(self) -> str:
        return self.name


class PlanVersion(TenantOwned):
    """The rule of a plan from ``effective_from`` on. A published version
    that has produced an entry is frozen (a database trigger refuses changes
    to its rule); a change is a new version with a later effective date."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    class RateType(models.TextChoices):
        PERCENT = "percent", "Percentage of the amount"
        FIXED = "fixed", "Fixed amount"
        BRACKETS_WHOLE = "brackets_whole", "Brackets: whole amount at its bracket's rate"
        BRACKETS_MARGINAL = "brackets_marginal", "Brackets: each slice at its own rate"

    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="versions", db_constraint=False
    )
    number = models.PositiveIntegerField(editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    effective_from = models.DateField(help_text="Deals closed on or after this date.")
    effective_to = models.DateField(
        null=True, blank=True, help_text="Last close date covered; empty for open-ended."
    )
    rate_type = models.CharField(max_length=20, choices=RateType.choices)
    rate_percent = models.DecimalField(
        **PERCENT,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="For percentage plans, e.g. 8.5 for 8.5%.",
    )
    fixed_amount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="For fixed plans, in the base currency (per deal; per period for rebates).",
    )
    period = models.CharField(
        max_length=10,
        choices=Period.choices,
        default=Period.QUARTER,
        help_text="The period of rebate volume, quotas and per-period caps.",
    )
    quota = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Period attainment (won volume, base currency) above which the accelerator "
        "applies.",
    )
    accelerator = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1"))],
        help_text="Multiplier above quota, e.g. 1.5.",
    )
    cap_per_deal = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    cap_per_period = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    # Eligibility: empty means every one.
    tiers = models.ManyToManyField(Tier, blank=True, related_name="+")
    partner_types = ArrayField(
        models.CharField(max_length=20, choices=Partner.Type.choices), default=list, blank=True
    )
    regions: "models.ManyToManyField[Region, Any]" = models.ManyToManyField(
        Region, blank=True, related_name="+"
    )
    product_lines: "models.ManyToManyField[ProductLine, Any]" = models.ManyToManyField(
        ProductLine,
        blank=True,
        related_name="+",
        help_text="A deal qualifies when it names at least one of these.",
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    published_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    # The columns a database trigger freezes once the version has entries.
    RULE_FIELDS = (
        "plan_id",
        "effective_from",
        "rate_type",
        "rate_percent",
        "fixed_amount",
        "period",
        "quota",
        "accelerator",
        "cap_per_deal",
        "cap_per_period",
        "partner_types",
    )

    class Meta:
        ordering = ["plan__name", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="planversion_number_unique"),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gte=models.F("effective_from")),
                name="planversion_dates_ordered",
            ),
            tenant_key("planversion_tenant_key"),
            *tenant_foreign_keys("planversion", "plan"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} v{self.number}"

    def clean(self) -> None:
        super().clean()
        errors = {}
        needs: dict[str, str] = {
            self.RateType.PERCENT: "rate_percent",
            self.RateType.FIXED: "fixed_amount",
        }
        field = needs.get(self.rate_type)
        if field and getattr(self, field) is None:
            errors[field] = "Required for this rate type."
        # A fixed rebate pays its amount once the volume reaches the quota:
        # there the quota stands alone (rules.volume_rebate).
        fixed_rebate = (
            self.rate_type == self.RateType.FIXED
            and self.plan_id is not None
            and self.plan.kind == Plan.Kind.REBATE
        )
        if (self.quota is None) != (self.accelerator is None) and not (
            fixed_rebate and self.accelerator is None
        ):
            errors["accelerator"] = "Give both a quota and an accelerator, or neither."
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            errors["effective_to"] = "Must be on or after the effective-from date."
        if errors:
            raise ValidationError(errors)

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    @property
    def is_bracketed(self) -> bool:
        return self.rate_type in (self.RateType.BRACKETS_WHOLE, self.RateType.BRACKETS_MARGINAL)


class Bracket(TenantOwned):
    """From ``lower`` (base currency, inclusive) up to the next bracket's
    lower bound, ``rate_percent`` applies."""

    version = models.ForeignKey(
        PlanVersion, on_delete=models.CASCADE, related_name="brackets", db_constraint=False
    )
    lower = models.DecimalField(
        "from amount", **MONEY, validators=[MinValueValidator(Decimal("0"))]
    )
    rate_percent = models.DecimalField(**PERCENT, validators=[MinValueValidator(Decimal("0"))])

    class Meta:
        ordering = ["lower"]
        constraints = [
            models.UniqueConstraint(fields=["version", "lower"], name="bracket_lower_unique"),
            *tenant_foreign_keys("bracket", "version"),
        ]

    def __str__(self) -> str:
        return f"from {self.lower}: {self.rate_percent}%"
