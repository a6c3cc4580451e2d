"""Deal registration's configuration: product lines, the tenant's settings
(SLA, calendar, protection), closure days, protection per tier, the
tenant's own questions and the routing rules."""

from datetime import time
from decimal import Decimal
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_countries.fields import CountryField

from partners.models import Partner, Region, Tier
from prm.tenancy.businesstime import BusinessCalendar
from prm.tenancy.constraints import tenant_foreign_keys
from prm.tenancy.models import Tenant, TenantOwned, User


class ProductLine(TenantOwned):
    name = models.CharField(max_length=100)
    code = models.SlugField(max_length=40)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="productline_name_unique"),
            models.UniqueConstraint(fields=["tenant", "code"], name="productline_code_unique"),
        ]

    def __str__(self) -> str:
        return self.name


def default_workdays() -> list[int]:
    return [0, 1, 2, 3, 4]


def default_reminders() -> list[int]:
    return [50, 90]


class DealRegSettings(TenantOwned):
    """A tenant's deal registration policy: SLA, reminders, protection,
    extensions and the conflict threshold. One row per tenant."""

    sla_business_hours = models.PositiveIntegerField(
        "decision SLA (business hours)",
        default=16,
        validators=[MinValueValidator(1)],
        help_text="16 = two business days of eight working hours.",
    )
    workdays = ArrayField(
        models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)]),
        default=default_workdays,
        help_text="Working weekdays, 0 = Monday … 6 = Sunday.",
    )
    day_start = models.TimeField(default=time(9, 0))
    day_end = models.TimeField(default=time(17, 0))
    reminder_percents = ArrayField(
        models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(99)]),
        default=default_reminders,
        blank=True,
        help_text="Remind the approver when this share of the SLA has passed, e.g. 50,90.",
    )
    escalate_on_breach = models.BooleanField(
        default=True, help_text="Tell the ops admins when a decision is overdue."
    )
    auto_approve_on_breach = models.BooleanField(
        default=False,
        help_text="Approve a registration with no conflicts automatically when its SLA passes.",
    )
    protection_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(1)], help_text="Protection after approval."
    )
    expiry_warning_days = models.PositiveIntegerField(
        default=14, help_text="Warn the partner this many days before protection ends."
    )
    max_extensions = models.PositiveSmallIntegerField(default=2)
    extension_days = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    name_similarity_threshold = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.60"),
        validators=[MinValueValidator(Decimal("0.10")), MaxValueValidator(Decimal("1.00"))],
        help_text="Customer names at least this similar (0-1, trigram) count as a conflict.",
    )

    class Meta:
        verbose_name = "deal registration settings"
        verbose_name_plural = "deal registration settings"
        constraints = [models.UniqueConstraint(fields=["tenant"], name="one_dealreg_settings")]

    def __str__(self) -> str:
        return "Deal registration settings"

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> "DealRegSettings":
        settings_row, _ = cls.objects.get_or_create(tenant=tenant)
        return settings_row

    def calendar(self) -> BusinessCalendar:
        closures = ClosureDay.objects.filter(tenant_id=self.tenant_id).values_list("day", flat=True)
        return BusinessCalendar.build(
            timezone=self.tenant.timezone,
            country=self.tenant.country,
            workdays=self.workdays,
            day_start=self.day_start,
            day_end=self.day_end,
            closures=closures,
        )


class ClosureDay(TenantOwned):
    """A day the vendor's channel team does not work (beside public holidays)."""

    day = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="closure_day_unique")]

    def __str__(self) -> str:
        return f"{self.day}: {self.name}"


class TierProtection(TenantOwned):
    """A tier's own protection period, instead of the tenant default."""

    tier = models.OneToOneField(
        Tier, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    protection_days = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        constraints = [*tenant_foreign_keys("tierprotection", "tier")]

    def __str__(self) -> str:
        return f"{self.tier}: {self.protection_days} days"


class Question(TenantOwned):
    """An extra question on a form, defined by ops: its shape (the form
    field it becomes: ``dealreg.forms.custom_form_field``). Deal
    registration's custom fields and onboarding's application questions
    are questions."""

    class Type(models.TextChoices):
        TEXT = "text", "Short text"
        TEXTAREA = "textarea", "Long text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        CHOICE = "choice", "Choice"
        CHECKBOX = "checkbox", "Yes/no"

    key = models.SlugField(max_length=40, help_text="Stored name; do not change once used.")
    label = models.CharField(max_length=120)
    field_type = models.CharField(max_length=20, choices=Type.choices, default=Type.TEXT)
    choices = models.TextField(blank=True, help_text="For choice fields: one option per line.")
    required = models.BooleanField(default=False)
    help_text = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        abstract = True
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label

    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


class CustomField(Question):
    """An extra question on the registration form, defined by ops."""

    class Meta(Question.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="customfield_key_unique")
        ]


class RoutingRule(TenantOwned):
    """Ordered rules that pick the approver of a new registration. The first
    active rule whose every given condition matches wins; empty conditions
    match anything. A rule names one approver or a pool (round-robin)."""

    name = models.CharField(max_length=100)
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    is_active = models.BooleanField(default=True)
    countries = CountryField(multiple=True, blank=True)
    regions = models.ManyToManyField(Region, blank=True, related_name="+")
    tiers: "models.ManyToManyField[Tier, Any]" = models.ManyToManyField(
        Tier, blank=True, related_name="+"
    )
    partner_types = ArrayField(
        models.CharField(max_length=20, choices=Partner.Type.choices), default=list, blank=True
    )
    product_lines: "models.ManyToManyField[ProductLine, Any]" = models.ManyToManyField(
        ProductLine, blank=True, related_name="+"
    )
    min_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    max_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    approver = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pool: "models.ManyToManyField[User, Any]" = models.ManyToManyField(
        User, blank=True, related_name="+", help_text="Round-robin among these channel managers."
    )
    last_assigned = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name
