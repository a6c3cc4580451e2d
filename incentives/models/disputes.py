"""Disputes of ledger lines and their threads."""

from django.db import models
from django.utils import timezone

from partners.models import Partner
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import TenantOwned, User

from .ledger import LedgerEntry


class Dispute(TenantOwned):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        ADJUSTED = "adjusted", "Resolved by adjustment"
        REJECTED = "rejected", "Rejected"

    code = models.CharField(max_length=12, editable=False)
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="disputes", db_constraint=False
    )
    entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, related_name="disputes", db_constraint=False
    )
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    adjustment = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="dispute_code_unique"),
            tenant_key("dispute_tenant_key"),
            *tenant_foreign_keys("dispute", "partner", "entry", "adjustment"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.ANSWERED)

    def object_permission_target(self) -> Partner:
        return self.partner


class DisputeMessage(TenantOwned):
    dispute = models.ForeignKey(
        Dispute, on_delete=models.CASCADE, related_name="messages", db_constraint=False
    )
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    from_partner = models.BooleanField()
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [*tenant_foreign_keys("disputemessage", "dispute")]
