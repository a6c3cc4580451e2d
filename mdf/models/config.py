"""What ops configure: the kinds of fund the program offers, and the
tenant's MDF settings (decision deadlines, reminders)."""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from incentives.models.fields import MONEY, PERCENT
from prm.tenancy.constraints import tenant_key
from prm.tenancy.models import Tenant, TenantOwned


class ActivityType(models.TextChoices):
    EVENT = "event", "Event"
    WEBINAR = "webinar", "Webinar"
    TRADE_SHOW = "trade_show", "Trade show"
    DIGITAL = "digital_campaign", "Digital campaign"
    SYNDICATION = "content_syndication", "Content syndication"
    TELEMARKETING = "telemarketing", "Telemarketing"
    TRAINING = "training", "Training"
    OTHER = "other", "Other"


class Document(models.TextChoices):
    """Kinds of proof a claim can carry; a fund type names the ones it
    requires at claim time."""

    INVOICE = "invoice", "Invoice"
    PHOTO = "photo", "Photos of the activity"
    ATTENDEES = "attendee_list", "Attendee list"
    SCREENSHOT = "screenshot", "Screenshots"
    LEADS = "lead_list", "Lead list"
    OTHER = "other", "Other proof"


class FundType(TenantOwned):
    """A kind of fund (MDF, co-op, ...): how much of an activity's cost the
    vendor reimburses, when requests and claims are due, which activities
    and proof it takes. ``accrual`` fund types fill each partner's
    allocation with a share of their won deals instead of by hand."""

    class Funding(models.TextChoices):
        ALLOCATED = "allocated", "Allocated from a budget"
        ACCRUAL = "accrual", "Accrued from won deals (co-op)"

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    funding = models.CharField(max_length=10, choices=Funding.choices, default=Funding.ALLOCATED)
    reimbursement_percent = models.DecimalField(
        "reimbursement %",
        **PERCENT,
        validators=[MinValueValidator(Decimal(5)), MaxValueValidator(Decimal(100))],
        help_text="The vendor's share of an activity's cost (5-100 %); the partner funds the rest.",
    )
    accrual_percent = models.DecimalField(
        "accrual %",
        **PERCENT,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal(100))],
        help_text="Co-op only: the share of each won deal's amount that accrues to the partner.",
    )
    claim_window_days = models.PositiveSmallIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days after an activity ends in which its claim must be submitted.",
    )
    request_lead_days = models.PositiveSmallIntegerField(
        "request lead time (days)",
        default=14,
        validators=[MaxValueValidator(365)],
        help_text="A request must be submitted at least this many days before the activity starts.",
    )
    activity_types = ArrayField(
        models.CharField(max_length=24, choices=ActivityType.choices),
        default=list,
        help_text="The activities this fund pays for.",
    )
    required_documents = ArrayField(
        models.CharField(max_length=16, choices=Document.choices),
        default=list,
        blank=True,
        help_text="Proof a claim must include.",
    )
    second_approval_above = models.DecimalField(
        "second approval above",
        **MONEY,
        null=True,
        blank=True,
        help_text=(
            "Requests for more than this (base currency) are also approved by ops or finance "
            "after the channel manager. Empty: the channel manager's approval is enough."
        ),
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="mdf_fundtype_name_unique"),
            models.CheckConstraint(
                condition=models.Q(reimbursement_percent__gte=5, reimbursement_percent__lte=100),
                name="mdf_fundtype_reimbursement_range",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(funding="accrual", accrual_percent__gt=0, accrual_percent__lte=100)
                    | models.Q(funding="allocated", accrual_percent__isnull=True)
                ),
                name="mdf_fundtype_accrual_percent",
            ),
            models.CheckConstraint(
                condition=models.Q(claim_window_days__gte=1, claim_window_days__lte=365),
                name="mdf_fundtype_claim_window_range",
            ),
            models.CheckConstraint(
                condition=models.Q(second_approval_above__isnull=True)
                | models.Q(second_approval_above__gte=0),
                name="mdf_fundtype_threshold_not_negative",
            ),
            tenant_key("mdf_fundtype_tenant_key"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_accrual(self) -> bool:
        return self.funding == self.Funding.ACCRUAL


class MdfSettings(TenantOwned):
    """The tenant's MDF deadlines: how many business days a decision may
    take, when the decider is reminded and when it escalates. One row per
    tenant."""

    request_decision_days = models.PositiveSmallIntegerField(
        "fund request decision (business days)",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    claim_decision_days = models.PositiveSmallIntegerField(
        "claim decision (business days)",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    reminder_hours_before = models.PositiveSmallIntegerField(
        "remind the decider (business hours before the deadline)",
        default=8,
        validators=[MaxValueValidator(200)],
    )

    class Meta:
        verbose_name = "MDF settings"
        verbose_name_plural = "MDF settings"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="mdfsettings_one_per_tenant")
        ]

    def __str__(self) -> str:
        return "MDF settings"

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> "MdfSettings":
        found = cls.objects.filter(tenant=tenant).first()
        if found is None:
            found, _ = cls.objects.get_or_create(tenant=tenant)
        return found
