"""Claims with proof of performance, and the reimbursement an approved
claim writes into the incentives ledger (where money owed lives: the
payout runs pay it and the partner's statement shows it)."""

import secrets

from django.core.files.storage import Storage, storages
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from incentives.models import LedgerEntry
from incentives.models.fields import MONEY
from partners.models import Partner
from prm.tenancy.codes import public_code
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Tenant, TenantOwned, User

from .activities import FundRequest
from .config import Document


def new_claim_code() -> str:
    """``FC-7KQ2M9XA`` (see ``prm.tenancy.codes``)."""
    return public_code("FC")


class Claim(TenantOwned):
    """What an approved activity actually cost and achieved, with proof.
    One live claim per request; a rejected or withdrawn claim may be
    followed by another within the claim window."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        MORE_INFO = "more_info_requested", "More information requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    PENDING = (Status.SUBMITTED, Status.MORE_INFO)
    LIVE = (Status.DRAFT, Status.SUBMITTED, Status.MORE_INFO, Status.APPROVED)

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    code = models.CharField(max_length=12, default=new_claim_code, editable=False)
    request = models.ForeignKey(
        FundRequest, on_delete=models.PROTECT, related_name="claims", db_constraint=False
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="mdf_claims", db_constraint=False
    )
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    client_token = models.UUIDField(null=True, blank=True, editable=False)
    invoice_number = models.CharField(max_length=60)
    invoice_date = models.DateField()
    supplier = models.CharField(max_length=200)
    supplier_normalized = models.CharField(max_length=200, editable=False)
    invoice_number_normalized = models.CharField(max_length=60, editable=False)
    total_cost = models.DecimalField("actual cost", **MONEY, default=0, editable=False)
    claimed_amount = models.DecimalField(**MONEY)
    leads = models.PositiveIntegerField(default=0)
    attendees = models.PositiveIntegerField(default=0)
    opportunities = models.PositiveIntegerField(default=0)
    results = models.TextField("results summary", blank=True)
    submitted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField("decision due", null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    escalated_at = models.DateTimeField(null=True, blank=True, editable=False)
    verified_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_cost = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    reimbursement_amount = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    duplicate_of = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Codes of other claims in the tenant with the same invoice.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="mdf_claim_code_unique"),
            models.UniqueConstraint(
                fields=["tenant", "client_token"], name="mdf_claim_client_token_unique"
            ),
            models.UniqueConstraint(
                fields=["tenant", "request"],
                condition=Q(status__in=["draft", "submitted", "more_info_requested", "approved"]),
                name="mdf_claim_one_live",
                violation_error_message="This activity already has a claim.",
            ),
            models.CheckConstraint(
                condition=Q(claimed_amount__gt=0), name="mdf_claim_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(reimbursement_amount__isnull=True)
                | Q(reimbursement_amount__gte=0, reimbursement_amount__lte=F("claimed_amount")),
                name="mdf_claim_reimbursement_within_claimed",
            ),
            tenant_key("mdf_claim_tenant_key"),
            *tenant_foreign_keys("mdf_claim", "request", "partner"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "due_at"], name="mdf_claim_queue"),
            models.Index(
                fields=["tenant", "next_check_at"],
                condition=Q(next_check_at__isnull=False),
                name="mdf_claim_next_check",
            ),
            models.Index(
                fields=["tenant", "supplier_normalized", "invoice_number_normalized"],
                name="mdf_claim_invoice",
            ),
            models.Index(fields=["partner", "-created_at"], name="mdf_claim_partner"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.supplier} {self.invoice_number}"

    def object_permission_target(self) -> Partner:
        return self.partner

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING


class ClaimLine(TenantOwned):
    """One actual cost of the activity."""

    claim = models.ForeignKey(
        Claim, on_delete=models.CASCADE, related_name="lines", db_constraint=False
    )
    description = models.CharField(max_length=200)
    amount = models.DecimalField(**MONEY)

    position = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="mdf_claimline_positive"),
            *tenant_foreign_keys("mdf_claimline", "claim"),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


def proof_path(instance: "ProofFile", filename: str) -> str:
    """A random name, never the uploader's (which is kept in
    ``original_name``), under the tenant's folder; the extension is the
    one of the detected type."""
    return f"mdf/{instance.tenant_id}/{secrets.token_hex(16)}{instance.extension}"


def proof_storage() -> Storage:
    """The ``proofs`` storage of settings.STORAGES (local files outside the
    static root by default, an S3-compatible bucket by setting)."""
    return storages["proofs"]


class ProofFile(TenantOwned):
    """An uploaded proof of performance. Stored through Django's storage
    API under a random name outside the static root; served only by a view
    that checks the viewer may see the claim."""

    claim = models.ForeignKey(
        Claim, on_delete=models.CASCADE, related_name="proofs", db_constraint=False
    )
    kind = models.CharField(max_length=16, choices=Document.choices, default=Document.INVOICE)
    file = models.FileField(upload_to=proof_path, storage=proof_storage, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    # Detected content type -> stored extension.
    EXTENSIONS = {
        "application/pdf": ".pdf",
        "image/png": ".png",
        "image/jpeg": ".jpg",
        "image/webp": ".webp",
        "text/csv": ".csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    }

    class Meta:
        ordering = ["uploaded_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="mdf_proof_not_empty"),
            *tenant_foreign_keys("mdf_proof", "claim"),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def extension(self) -> str:
        return self.EXTENSIONS.get(self.content_type, "")

    @property
    def inline_preview(self) -> str:
        """How a reviewer sees it inline: "image", "pdf" or "" (download)."""
        if self.content_type.startswith("image/"):
            return "image"
        return "pdf" if self.content_type == "application/pdf" else ""


class Reimbursement(TenantOwned):
    """The ledger entry an approved claim wrote: exactly one per claim
    (unique), paid when a payout run settles the entry."""

    claim = models.OneToOneField(
        Claim, on_delete=models.PROTECT, related_name="reimbursement", db_constraint=False
    )
    entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, related_name="mdf_reimbursement", db_constraint=False
    )
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="mdf_reimbursement_positive"),
            *tenant_foreign_keys("mdf_reimbursement", "claim", "entry"),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.amount}"
