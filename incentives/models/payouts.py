"""Statements, payout runs, their lines and settlements."""

from decimal import Decimal

from django.db import models
from django.utils import timezone

from partners.models import Partner
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import TenantOwned, User

from ..periods import Period
from .fields import MONEY
from .ledger import LedgerEntry


class Statement(TenantOwned):
    """A partner's statement for an ended period, issued once: the totals of
    the entries booked in it. ``check_ledger`` proves they still add up."""

    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="statements", db_constraint=False
    )
    period = models.CharField(max_length=10, choices=Period.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    currency = models.CharField(max_length=3)
    opening = models.DecimalField(**MONEY)
    accruals = models.DecimalField(**MONEY)
    adjustments = models.DecimalField(**MONEY)
    clawbacks = models.DecimalField(**MONEY)
    reimbursements = models.DecimalField(
        "MDF reimbursements",
        **MONEY,
        default=0,
        db_default=0,
        help_text="Approved MDF claims owed.",
    )
    payouts = models.DecimalField(**MONEY)
    closing = models.DecimalField(**MONEY)
    line_count = models.PositiveIntegerField()
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner", "period_start"], name="statement_unique"
            ),
            *tenant_foreign_keys("statement", "partner"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.period_start:%Y-%m}"


class PayoutRun(TenantOwned):
    class Status(models.TextChoices):
        COMPUTING = "computing", "Computing"
        REVIEW = "review", "In review"
        APPROVING = "approving", "Writing payouts"
        APPROVED = "approved", "Approved"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    reference = models.CharField(max_length=20, editable=False)
    cutoff = models.DateField(help_text="Entries payable on or before this date are included.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPUTING)
    currency = models.CharField(max_length=3, editable=False)
    minimum_payout = models.DecimalField(**MONEY, editable=False)
    partners_total = models.PositiveIntegerField(default=0, editable=False)
    partners_done = models.PositiveIntegerField(default=0, editable=False)
    total_payable = models.DecimalField(**MONEY, default=Decimal("0"), editable=False)
    error = models.TextField(blank=True, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "reference"], name="payoutrun_reference_unique"
            ),
            tenant_key("payoutrun_tenant_key"),
        ]

    def __str__(self) -> str:
        return self.reference


class PayoutLine(TenantOwned):
    """One partner's part of a payout run."""

    class Status(models.TextChoices):
        READY = "ready", "Ready"
        HOLD = "hold", "On hold"
        BELOW_MINIMUM = "below_minimum", "Below minimum"
        NEGATIVE = "negative", "Negative balance"
        PAID_OUT = "written", "Payout written"

    run = models.ForeignKey(
        PayoutRun, on_delete=models.CASCADE, related_name="lines", db_constraint=False
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    payable = models.DecimalField(**MONEY)
    entry_count = models.PositiveIntegerField(default=0)
    hold_reason = models.CharField(max_length=300, blank=True)
    payout_entry = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )

    class Meta:
        ordering = ["partner__name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "partner"], name="payoutline_unique"),
            *tenant_foreign_keys("payoutline", "run", "partner", "payout_entry"),
        ]

    def __str__(self) -> str:
        return f"{self.run} {self.partner}"


class Settlement(TenantOwned):
    """Which payout settled which entry: each entry is settled at most once
    (a unique constraint). For accruals it records the close-to-paid time."""

    entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, related_name="settlement", db_constraint=False
    )
    payout = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, related_name="settles", db_constraint=False
    )
    run = models.ForeignKey(
        PayoutRun, on_delete=models.PROTECT, related_name="settlements", db_constraint=False
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    paid_on = models.DateField(null=True, blank=True)
    days_close_to_paid = models.IntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["run", "partner"], name="settlement_run_partner")]
        constraints = [*tenant_foreign_keys("settlement", "entry", "payout", "run", "partner")]
