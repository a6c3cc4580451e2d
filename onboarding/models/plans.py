"""Onboarding plans: templates ops define per partner type (and tier), and
each new partner's plan, a copy of its template's steps with due dates."""

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from partners.models import Partner, Tier
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import TenantOwned, User

from .agreements import Agreement, document_storage
from .applications import Application


class StepKind(models.TextChoices):
    AGREEMENT = "agreement", "Accept an agreement"
    PROFILE = "profile", "Complete the company profile"
    DOCUMENT = "document", "Upload a document"
    TRAINING = "training", "Complete a course or certification"
    FIRST_REGISTRATION = "first_registration", "Register a first deal"
    FIRST_APPROVAL = "first_approval", "Get a first deal approved"
    KICKOFF = "kickoff", "Attend a kickoff call"
    CUSTOM = "custom", "Other (ticked by hand)"


# Kinds that complete themselves from what happens elsewhere; the others
# are ticked (by their owner, or by the channel manager).
AUTOMATIC_KINDS = frozenset(
    {
        StepKind.AGREEMENT,
        StepKind.PROFILE,
        StepKind.DOCUMENT,
        StepKind.TRAINING,
        StepKind.FIRST_REGISTRATION,
        StepKind.FIRST_APPROVAL,
    }
)


class Owner(models.TextChoices):
    PARTNER = "partner", "The partner"
    CHANNEL_MANAGER = "channel_manager", "The channel manager"


class StepFields(models.Model):
    """What a template's step and a plan's step share."""

    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    owner = models.CharField(max_length=16, choices=Owner.choices, default=Owner.PARTNER)
    required = models.BooleanField(
        default=True, help_text="The plan is complete when every required step is."
    )
    instructions = models.TextField(blank=True, help_text="What to do, shown with the step.")
    agreement = models.ForeignKey(
        Agreement,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="For an agreement step: which agreement.",
    )
    document_name = models.CharField(
        max_length=120, blank=True, help_text="For a document step: what to upload (e.g. W-9)."
    )
    course_code = models.CharField(
        max_length=40, blank=True, help_text="For a training step: the course or certification."
    )

    class Meta:
        abstract = True


class PlanTemplate(TenantOwned):
    """The steps a new partner of a type (and, optionally, a tier) goes
    through, and the target to finish them in."""

    name = models.CharField(max_length=120)
    partner_type = models.CharField(max_length=20, choices=Partner.Type.choices)
    tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="Empty: partners of this type in any tier without a template of their own.",
    )
    target_days = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(730)]
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["partner_type", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="onboarding_template_name"),
            models.UniqueConstraint(
                fields=["tenant", "partner_type", "tier"],
                condition=Q(is_active=True),
                nulls_distinct=False,
                name="onboarding_template_one_active",
                violation_error_message="An active template for this partner type and tier "
                "exists already.",
            ),
            tenant_key("onboarding_template_tenant_key"),
            *tenant_foreign_keys("onboarding_template", "tier"),
        ]

    def __str__(self) -> str:
        return self.name


class TemplateStep(TenantOwned, StepFields):
    template = models.ForeignKey(
        PlanTemplate, on_delete=models.CASCADE, related_name="steps", db_constraint=False
    )
    due_days = models.PositiveSmallIntegerField(
        "due (days from the start)", validators=[MaxValueValidator(730)]
    )

    class Meta:
        ordering = ["position", "due_days"]
        constraints = [
            *tenant_foreign_keys("onboarding_tstep", "template", "agreement"),
        ]

    def __str__(self) -> str:
        return self.title


class Plan(TenantOwned):
    """A partner's onboarding: one per partner, from its start to the
    completion of its last required step."""

    class Status(models.TextChoices):
        ACTIVE = "active", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    partner = models.OneToOneField(
        Partner, on_delete=models.CASCADE, related_name="onboarding_plan", db_constraint=False
    )
    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="plans",
        db_constraint=False,
    )
    name = models.CharField(max_length=120)
    application = models.ForeignKey(
        Application,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now)
    target_on = models.DateField("target date")
    completed_at = models.DateTimeField(null=True, blank=True)
    last_progress_at = models.DateTimeField(default=timezone.now)
    overdue_escalated_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="onboarding_plan_completed_at",
            ),
            tenant_key("onboarding_plan_tenant_key"),
            *tenant_foreign_keys("onboarding_plan", "partner", "template", "application"),
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="onboarding_plan_status")]

    def __str__(self) -> str:
        return f"{self.name}: {self.partner}"


def document_path(instance: "PlanStep", filename: str) -> str:
    extension = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}.get(
        instance.document_type, ""
    )
    return f"onboarding/{instance.tenant_id}/documents/{secrets.token_hex(16)}{extension}"


class PlanStep(TenantOwned, StepFields):
    """A step of a partner's plan: due on a date, done when it happened
    (``completed_at``: the time of the event that completed it)."""

    class Source(models.TextChoices):
        AUTOMATIC = "automatic", "Completed by what happened"
        MANUAL = "manual", "Ticked by hand"

    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, related_name="steps", db_constraint=False
    )
    due_on = models.DateField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    evidence = models.CharField(
        max_length=200, blank=True, help_text="What completed it (a registration's code, a file)."
    )
    note = models.CharField(max_length=300, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    escalated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A document step's upload (checked like MDF proofs).
    document = models.FileField(
        upload_to=document_path, storage=document_storage, max_length=200, blank=True
    )
    document_original_name = models.CharField(max_length=200, blank=True)
    document_type = models.CharField(max_length=100, blank=True)
    document_size = models.PositiveIntegerField(null=True, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["position", "due_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | ~Q(source=""),
                name="onboarding_step_completed_source",
            ),
            *tenant_foreign_keys("onboarding_step", "plan", "agreement"),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "due_on"],
                condition=Q(completed_at__isnull=True),
                name="onboarding_step_open_due",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.completed_at is not None

    @property
    def automatic(self) -> bool:
        return self.kind in AUTOMATIC_KINDS
