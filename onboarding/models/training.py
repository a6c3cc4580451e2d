"""Training and certifications: the courses and certifications of the
vendor's program, and each person's records of them.

They live in onboarding because onboarding is where a partner's people are
trained (a plan's training step completes from a course record) and
because tier qualification, built on them later, reads them from an app
that deal registration and incentives come before."""

import secrets
from datetime import date

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from partners.models import Partner
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Membership, TenantOwned, User

from .agreements import document_storage


class Function(models.TextChoices):
    """What a person at a partner does: who a certification is for."""

    SALES = "sales", "Sales"
    PRESALES = "presales", "Pre-sales engineering"
    TECHNICAL = "technical", "Technical / delivery engineering"
    SUPPORT = "support", "Support"
    MARKETING = "marketing", "Marketing"


class Course(TenantOwned):
    """A course: taught in the vendor's own sessions, or a link to an
    external learning system."""

    code = models.SlugField(
        max_length=40, help_text="Short code, as the learning system's exports name it (SF-101)."
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    url = models.URLField("link", blank=True, help_text="Where to take it, if online.")
    hours = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="onboarding_course_code"),
            tenant_key("onboarding_course_tenant_key"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Certification(TenantOwned):
    """A certification: earned by the courses (or exam) it names, valid for
    a number of years (or for good), for the people of some functions."""

    class Validity(models.IntegerChoices):
        FOREVER = 0, "Does not expire"
        ONE = 1, "1 year"
        TWO = 2, "2 years"
        THREE = 3, "3 years"

    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    courses = models.ManyToManyField(Course, blank=True, related_name="certifications")
    exam = models.CharField(max_length=200, blank=True, help_text="The exam, if one is taken.")
    validity_years = models.PositiveSmallIntegerField(
        "valid for", choices=Validity.choices, default=Validity.TWO
    )
    functions = ArrayField(
        models.CharField(max_length=20, choices=Function.choices),
        blank=True,
        default=list,
        help_text="Who it is for (empty: anyone at a partner).",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="onboarding_cert_code"),
            tenant_key("onboarding_cert_tenant_key"),
        ]

    def __str__(self) -> str:
        return self.name

    def expiry_for(self, earned_on: date) -> date | None:
        """The day a certification earned on ``earned_on`` stops counting."""
        if not self.validity_years:
            return None
        try:
            return earned_on.replace(year=earned_on.year + self.validity_years)
        except ValueError:  # 29 February
            return earned_on.replace(year=earned_on.year + self.validity_years, day=28)


def evidence_path(instance: "TrainingRecord", filename: str) -> str:
    extension = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}.get(
        instance.evidence_type, ""
    )
    return f"onboarding/{instance.tenant_id}/certificates/{secrets.token_hex(16)}{extension}"


class TrainingRecord(TenantOwned):
    """One person's completed course or earned certification. Entered by
    staff, imported from a learning system (both confirmed at once), or
    reported by the person with a certificate that staff confirm. A
    certification counts from ``completed_on`` until the day before
    ``expires_on``, and only once confirmed."""

    class Source(models.TextChoices):
        STAFF = "staff", "Entered by staff"
        IMPORT = "import", "Imported from the learning system"
        SELF = "self", "Reported by the person"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Not confirmed"

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="training_records", db_constraint=False
    )
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    course = models.ForeignKey(
        Course,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="records",
        db_constraint=False,
    )
    certification = models.ForeignKey(
        Certification,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="records",
        db_constraint=False,
    )
    completed_on = models.DateField("completed or earned on")
    expires_on = models.DateField(null=True, blank=True)
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    certificate_id = models.CharField("certificate number", max_length=100, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    note = models.CharField(max_length=300, blank=True)
    # The certificate a person uploads with a report (checked like MDF proofs).
    evidence = models.FileField(
        upload_to=evidence_path, storage=document_storage, max_length=200, blank=True
    )
    evidence_name = models.CharField(max_length=200, blank=True)
    evidence_type = models.CharField(max_length=100, blank=True)
    recorded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-completed_on"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(course__isnull=False) & Q(certification__isnull=True))
                | (Q(course__isnull=True) & Q(certification__isnull=False)),
                name="onboarding_record_course_xor_cert",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=models.F("completed_on")),
                name="onboarding_record_expires_after",
            ),
            # The same achievement recorded twice (an import run again).
            models.UniqueConstraint(
                fields=["membership", "course", "completed_on"],
                condition=Q(course__isnull=False) & ~Q(status="rejected"),
                name="onboarding_record_course_once",
            ),
            models.UniqueConstraint(
                fields=["membership", "certification", "completed_on"],
                condition=Q(certification__isnull=False) & ~Q(status="rejected"),
                name="onboarding_record_cert_once",
            ),
            *tenant_foreign_keys(
                "onboarding_record", "partner", "membership", "course", "certification"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "partner"], name="onboarding_record_partner"),
            models.Index(
                fields=["tenant", "expires_on"],
                condition=Q(certification__isnull=False, status="confirmed"),
                name="onboarding_record_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.course or self.certification}: {self.membership_id}"

    @property
    def achievement(self) -> Course | Certification | None:
        return self.course or self.certification

    def counts_on(self, day: date) -> bool:
        """Whether it counts on ``day``: confirmed, earned by then, not expired."""
        return (
            self.status == self.Status.CONFIRMED
            and self.completed_on <= day
            and (self.expires_on is None or day < self.expires_on)
        )


def valid_on(day: date) -> Q:
    """Records that count on ``day`` (a ``TrainingRecord`` filter)."""
    return Q(status=TrainingRecord.Status.CONFIRMED, completed_on__lte=day) & (
        Q(expires_on__isnull=True) | Q(expires_on__gt=day)
    )
