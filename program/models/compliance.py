"""Periodic compliance reviews: the tenant's policy (how often, how long a
partner has, whether being late blocks new deal registrations), the custom
items ops add to the checklist, each partner's reviews and its answers to
the custom items.

A partner has at most one unfinished review (open, submitted or returned);
the next one opens ``interval_months`` after the last one opened, once it
is signed off (``program.compliance_sweeps``)."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from onboarding.models.agreements import document_storage
from partners.models import Partner
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Tenant, TenantOwned, User

# The days before a review's due date when the partner's admins are reminded.
REMINDER_DAYS = (14, 3)


class ComplianceSettings(TenantOwned):
    """A tenant's compliance review policy. One row per tenant (``for_tenant``)."""

    enabled = models.BooleanField(
        "run compliance reviews",
        default=False,
        help_text="When switched on, every active partner without a review gets one at the "
        "next daily round.",
    )
    interval_months = models.PositiveSmallIntegerField(
        "review every (months)",
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    complete_within_days = models.PositiveSmallIntegerField(
        "time to complete (days)",
        default=30,
        validators=[MinValueValidator(7), MaxValueValidator(365)],
        help_text="From the day a review opens to its due date.",
    )
    tax_document_required = models.BooleanField(
        "ask for a tax document",
        default=True,
        help_text="The partner admin uploads a current tax form (W-9, W-8BEN or the local "
        "equivalent) with each review.",
    )
    blocks_registrations = models.BooleanField(
        "out of compliance blocks new deal registrations",
        default=False,
        help_text="A partner whose review is overdue cannot submit new deal registrations "
        "until it is signed off.",
    )

    class Meta:
        verbose_name = "compliance review policy"
        verbose_name_plural = "compliance review policy"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="compliancesettings_one"),
        ]

    def __str__(self) -> str:
        return "Compliance review policy"

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> ComplianceSettings:
        row, _ = cls.objects.get_or_create(tenant=tenant)
        return row


class ComplianceItem(TenantOwned):
    """A custom item of the checklist: the partner admin attests it (a tick
    and their name) or uploads a file for it."""

    class Kind(models.TextChoices):
        ATTESTATION = "attestation", "Attestation (tick and name)"
        FILE = "file", "File upload"

    label = models.CharField(max_length=200)
    help_text = models.TextField(
        blank=True, help_text="What the partner attests or uploads, shown beside the item."
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.ATTESTATION)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(
        default=True, help_text="Inactive items are asked of nobody (answers are kept)."
    )

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "label"], name="complianceitem_label"),
            tenant_key("complianceitem_tenant_key"),
        ]

    def __str__(self) -> str:
        return self.label


def compliance_file_path(instance: Any, filename: str) -> str:
    extension = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}.get(
        instance.file_type, ""
    )
    return f"program/{instance.tenant_id}/compliance/{secrets.token_hex(16)}{extension}"


class StoredFile(models.Model):
    """An uploaded file's fields (checked like MDF proofs; stored under a
    random name with the agreements' documents, served only by the views)."""

    file = models.FileField(
        upload_to=compliance_file_path, storage=document_storage, max_length=200, blank=True
    )
    file_name = models.CharField(max_length=200, blank=True)
    file_type = models.CharField(max_length=100, blank=True)
    file_size = models.PositiveIntegerField(null=True, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True


class ComplianceReview(TenantOwned, StoredFile):
    """One partner's review of one period: the partner admin completes the
    checklist and submits it; the channel manager (or ops) signs it off or
    returns it with a reason. ``file`` is the tax document."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUBMITTED = "submitted", "Submitted, waiting for sign-off"
        RETURNED = "returned", "Returned for changes"
        SIGNED_OFF = "signed_off", "Signed off"

    UNFINISHED = (Status.OPEN, Status.SUBMITTED, Status.RETURNED)
    # What the partner admin may still change.
    EDITABLE = (Status.OPEN, Status.RETURNED)

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="compliance_reviews", db_constraint=False
    )
    opens_on = models.DateField()
    due_on = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    # What the automatic checks found when it was submitted.
    checks = models.JSONField(default=list, blank=True)
    signed_off_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(
        blank=True, help_text="The reviewer's note: why it was returned, or on signing off."
    )
    escalated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-opens_on"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "opens_on"], name="compliancereview_period"),
            models.UniqueConstraint(
                fields=["partner"],
                condition=Q(status__in=["open", "submitted", "returned"]),
                name="compliancereview_one_unfinished",
            ),
            models.CheckConstraint(
                condition=Q(due_on__gt=models.F("opens_on")), name="compliancereview_dates"
            ),
            models.CheckConstraint(
                condition=~Q(status="signed_off") | Q(signed_off_at__isnull=False),
                name="compliancereview_signed_off_at",
            ),
            tenant_key("compliancereview_tenant_key"),
            *tenant_foreign_keys("compliancereview", "partner"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "due_on"])]

    def __str__(self) -> str:
        return f"{self.partner}: compliance review {self.period}"

    @property
    def period(self) -> str:
        return f"{self.opens_on:%b %Y}"

    @property
    def editable(self) -> bool:
        return self.status in self.EDITABLE

    def is_overdue(self, day: Any) -> bool:
        return self.status != self.Status.SIGNED_OFF and self.due_on < day

    def object_permission_target(self) -> Partner:
        return self.partner


class ComplianceAnswer(TenantOwned, StoredFile):
    """The partner's answer to one custom item in one review: an
    attestation (ticked, with the name of the person attesting) or a file.
    ``label`` keeps the item's words as they were answered."""

    review = models.ForeignKey(
        ComplianceReview, on_delete=models.CASCADE, related_name="answers", db_constraint=False
    )
    item = models.ForeignKey(
        ComplianceItem, on_delete=models.PROTECT, related_name="answers", db_constraint=False
    )
    label = models.CharField(max_length=200)
    attested_name = models.CharField(max_length=120, blank=True)
    answered_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["item__position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["review", "item"], name="complianceanswer_once"),
            models.CheckConstraint(
                condition=~Q(attested_name="") | ~Q(file=""), name="complianceanswer_given"
            ),
            *tenant_foreign_keys("complianceanswer", "review", "item"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.attested_name or self.file_name}"
