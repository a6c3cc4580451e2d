"""Agreements partners accept: documents in versions, and the record of
each acceptance (who, when, from where, of exactly what)."""

import hashlib
import secrets
from datetime import date

from django.contrib.postgres.fields import ArrayField
from django.core.files.storage import Storage, storages
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from partners.models import Partner
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import TenantOwned, User


def document_storage() -> Storage:
    """Agreement PDFs and uploaded onboarding documents live with MDF's
    proofs (``settings.STORAGES["proofs"]``): outside the static root,
    served only by views that check the viewer."""
    return storages["proofs"]


def agreement_pdf_path(instance: "AgreementVersion", filename: str) -> str:
    return f"onboarding/{instance.tenant_id}/agreements/{secrets.token_hex(16)}.pdf"


class Agreement(TenantOwned):
    """A document partners must accept (the partner program agreement, a
    data processing agreement), in versions."""

    title = models.CharField(max_length=200)
    summary = models.CharField(
        max_length=300, blank=True, help_text="One line on what it covers, shown before it."
    )
    partner_types = ArrayField(
        models.CharField(max_length=20, choices=Partner.Type.choices),
        blank=True,
        default=list,
        help_text="Which partner types must accept it (empty: every type).",
    )
    is_active = models.BooleanField(
        default=True, help_text="Inactive agreements are asked of nobody."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["title"]
        permissions = [("export_acceptance", "Export who accepted which agreement version")]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "title"], name="onboarding_agreement_title"),
            tenant_key("onboarding_agreement_tenant_key"),
        ]

    def __str__(self) -> str:
        return self.title

    def applies_to(self, partner_type: str) -> bool:
        return self.is_active and (not self.partner_types or partner_type in self.partner_types)


class AgreementVersion(TenantOwned):
    """One version of an agreement: its text (Markdown) or a PDF, from its
    effective date until its expiry date. Once anyone has accepted it, its
    content is fixed (``content_sha256`` is what they accepted)."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="versions", db_constraint=False
    )
    number = models.PositiveSmallIntegerField("version")
    body = models.TextField(blank=True, help_text="The text, in Markdown (or upload a PDF).")
    pdf = models.FileField(
        "PDF", upload_to=agreement_pdf_path, storage=document_storage, max_length=200, blank=True
    )
    content_sha256 = models.CharField(max_length=64, editable=False)
    effective_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    grace_days = models.PositiveSmallIntegerField(
        "days to accept",
        null=True,
        blank=True,
        validators=[MaxValueValidator(365)],
        help_text="Partners who accepted an earlier version keep access this long "
        "(empty: the onboarding settings' default).",
    )
    change_summary = models.TextField(blank=True, help_text="What changed from the last version.")
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["agreement", "-number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "number"], name="onboarding_version_number"
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=models.F("effective_on")),
                name="onboarding_version_expires_after_effective",
            ),
            models.CheckConstraint(
                condition=~Q(body="") | ~Q(pdf=""), name="onboarding_version_has_content"
            ),
            tenant_key("onboarding_version_tenant_key"),
            *tenant_foreign_keys("onboarding_version", "agreement"),
        ]

    def __str__(self) -> str:
        return f"{self.agreement} v{self.number}"

    def in_force(self, day: date) -> bool:
        return self.effective_on <= day and (self.expires_on is None or day < self.expires_on)

    @staticmethod
    def digest(content: bytes) -> str:
        return hashlib.sha256(content).hexdigest()


class Acceptance(TenantOwned):
    """A partner's acceptance of one agreement version: the person who
    accepted, the name they typed, when, from which address and browser,
    and the hash of the content they were shown. Never changed."""

    version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="acceptances", db_constraint=False
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="acceptances", db_constraint=False
    )
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    typed_name = models.CharField(max_length=200)
    accepted_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    content_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "partner"], name="onboarding_acceptance_once"
            ),
            *tenant_foreign_keys("onboarding_acceptance", "version", "partner"),
        ]
        indexes = [models.Index(fields=["tenant", "partner"], name="onboarding_acc_partner")]

    def __str__(self) -> str:
        return f"{self.partner} accepted {self.version}"
