"""What ops configure: the onboarding policy, the application form's own
questions, the vetting checklist and the rules that pick a new partner's
channel manager."""

from typing import TYPE_CHECKING

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_countries.fields import CountryField

from dealreg.models.config import Question as FormQuestion
from partners.models import Partner, Region, Tier
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Tenant, TenantOwned, User

if TYPE_CHECKING:
    from prm.tenancy.businesstime import BusinessCalendar


class OnboardingSettings(TenantOwned):
    """A tenant's onboarding policy. One row per tenant (``for_tenant``)."""

    class Activation(models.TextChoices):
        WON = "won", "A first won deal"
        APPROVED = "approved", "A first approved registration"

    applications_open = models.BooleanField(
        default=True, help_text="Show the public application page on the portal's host."
    )
    welcome_text = models.TextField(
        blank=True, help_text="Shown above the application form (Markdown)."
    )
    decision_business_days = models.PositiveSmallIntegerField(
        "decide applications within (business days)",
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    reminder_business_days = models.PositiveSmallIntegerField(
        "remind the reviewer (business days before the deadline)",
        default=1,
        validators=[MaxValueValidator(30)],
    )
    confirm_within_hours = models.PositiveSmallIntegerField(
        "applicants confirm their email within (hours)",
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
    )
    limit_per_ip = models.PositiveSmallIntegerField(
        "applications per IP address per hour",
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    limit_per_domain = models.PositiveSmallIntegerField(
        "applications per email domain per day",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    entry_tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="The tier approved applicants join (empty: the lowest-ranked tier).",
    )
    target_days = models.PositiveSmallIntegerField(
        "onboarding target (days)",
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(730)],
        help_text="For plans whose template sets none.",
    )
    activation = models.CharField(
        "a partner is activated by",
        max_length=10,
        choices=Activation.choices,
        default=Activation.WON,
    )
    step_reminder_days = models.PositiveSmallIntegerField(
        "remind step owners (days before a step is due)",
        default=3,
        validators=[MaxValueValidator(60)],
    )
    stalled_after_days = models.PositiveSmallIntegerField(
        "a plan is stalled after (days without a completed step)",
        default=21,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    agreement_grace_days = models.PositiveSmallIntegerField(
        "accept a new agreement version within (days)",
        default=30,
        validators=[MaxValueValidator(365)],
        help_text="Partners who accepted the version before keep full access meanwhile.",
    )

    class Meta:
        verbose_name = "onboarding settings"
        verbose_name_plural = "onboarding settings"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="onboardingsettings_one_per_tenant"),
            *tenant_foreign_keys("onboardingsettings", "entry_tier"),
        ]

    def __str__(self) -> str:
        return "Onboarding settings"

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> "OnboardingSettings":
        row, _ = cls.objects.get_or_create(tenant=tenant)
        return row

    def calendar(self) -> "BusinessCalendar":
        """The vendor's business calendar (deal registration keeps it)."""
        from dealreg.models import DealRegSettings

        return DealRegSettings.for_tenant(self.tenant).calendar()

    def joining_tier(self) -> Tier | None:
        if self.entry_tier_id is not None:
            return self.entry_tier
        return Tier.objects.order_by("rank").first()


class Question(FormQuestion):
    """A question of the tenant's own on the public application form (the
    same shape, and form fields, as deal registration's custom fields)."""

    class Meta(FormQuestion.Meta):
        verbose_name = "application question"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="onboarding_question_key_unique")
        ]


class VettingCheck(TenantOwned):
    """An item of the vetting checklist ("References checked", "Sanctions
    screening done"). Required checks must be ticked before approval."""

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    required = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="onboarding_check_name_unique"),
            tenant_key("onboarding_check_tenant_key"),
        ]

    def __str__(self) -> str:
        return self.name


class AssignmentRule(TenantOwned):
    """Ordered rules that pick an approved applicant's channel manager: the
    first active rule whose every given condition matches wins; when none
    does, the least busy channel manager (fewest partners managed)."""

    name = models.CharField(max_length=100)
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    is_active = models.BooleanField(default=True)
    regions = models.ManyToManyField(Region, blank=True, related_name="+")
    countries = CountryField(multiple=True, blank=True)
    partner_types = ArrayField(
        models.CharField(max_length=20, choices=Partner.Type.choices),
        blank=True,
        default=list,
        help_text="Empty: any type.",
    )
    manager = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A channel manager of this tenant.",
    )

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="onboarding_rule_name_unique")
        ]

    def __str__(self) -> str:
        return self.name
