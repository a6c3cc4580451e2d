"""Money in: budgets per fiscal period and fund type, their allocations to
partners, every change of an allocation, and co-op accruals from won deals.

An allocation's counters say where its money stands; the database keeps
them honest (check constraints), so no interleaving of concurrent approvals
can commit more than was allocated:

    reserved + claimed + expired <= amount

``reserved`` is what approved fund requests hold and have not yet claimed,
``claimed`` what approved claims reimburse, ``expired`` what the period's
end took back. Available = amount - reserved - claimed - expired. Likewise a
budget's ``allocated`` (the sum of its allocations' amounts) never passes
its amount. Every service that moves money updates the counter with an
``F()`` expression in the same transaction as the change it records, so
the row lock serializes writers and the constraint refuses an overdraft."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from dealreg.models import DealRegistration
from incentives.models.fields import MONEY
from partners.models import Partner, Region, Tier
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Tenant, TenantOwned, User, currency_validator

from .config import FundType


class Budget(TenantOwned):
    """Money for one fund type in one fiscal period (quarter, half or
    year on the tenant's fiscal calendar), optionally for one region or
    tier, in the tenant's base currency."""

    class Span(models.TextChoices):
        QUARTER = "quarter", "Quarter"
        HALF = "half", "Half year"
        YEAR = "year", "Year"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    fund_type = models.ForeignKey(
        FundType, on_delete=models.PROTECT, related_name="budgets", db_constraint=False
    )
    span = models.CharField(max_length=8, choices=Span.choices, default=Span.QUARTER)
    fiscal_year = models.PositiveSmallIntegerField(
        help_text="Named after the calendar year it ends in."
    )
    number = models.PositiveSmallIntegerField(
        default=1, help_text="Quarter 1-4 or half 1-2 of the fiscal year; 1 for a year."
    )
    starts_on = models.DateField(editable=False)
    ends_on = models.DateField(editable=False)
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="Only partners of this region are allocated from it.",
    )
    tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="Only partners of this tier are allocated from it.",
    )
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator], editable=False)
    allocated = models.DecimalField(**MONEY, default=0, editable=False)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-starts_on", "fund_type__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "fund_type", "starts_on", "ends_on", "region", "tier"],
                name="mdf_budget_unique",
                nulls_distinct=False,
                violation_error_message=(
                    "There is already a budget for this fund type, period, region and tier."
                ),
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="mdf_budget_amount"),
            models.CheckConstraint(
                condition=Q(allocated__gte=0) & Q(allocated__lte=F("amount")),
                name="mdf_budget_not_overallocated",
                violation_error_message="A budget cannot be allocated past its amount.",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="mdf_budget_dates"
            ),
            models.CheckConstraint(
                condition=Q(span="quarter", number__gte=1, number__lte=4)
                | Q(span="half", number__gte=1, number__lte=2)
                | Q(span="year", number=1),
                name="mdf_budget_number",
            ),
            tenant_key("mdf_budget_tenant_key"),
            *tenant_foreign_keys("mdf_budget", "fund_type", "region", "tier"),
        ]

    def __str__(self) -> str:
        scope = " · ".join(str(x) for x in (self.region, self.tier) if x is not None)
        return f"{self.fund_type} {self.period_label}" + (f" ({scope})" if scope else "")

    @property
    def period_label(self) -> str:
        if self.span == self.Span.QUARTER:
            return f"Q{self.number} FY{self.fiscal_year}"
        if self.span == self.Span.HALF:
            return f"H{self.number} FY{self.fiscal_year}"
        return f"FY{self.fiscal_year}"

    @property
    def unallocated(self):  # type: ignore[no-untyped-def]
        return self.amount - self.allocated


class Allocation(TenantOwned):
    """A partner's share of a budget, and where that money stands."""

    class Source(models.TextChoices):
        MANUAL = "manual", "By hand"
        CSV = "csv", "CSV import"
        RULE = "rule", "Allocation rule"
        ACCRUAL = "accrual", "Co-op accrual"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    budget = models.ForeignKey(
        Budget, on_delete=models.PROTECT, related_name="allocations", db_constraint=False
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="mdf_allocations", db_constraint=False
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    amount = models.DecimalField(**MONEY, default=0)
    reserved = models.DecimalField(**MONEY, default=0, editable=False)
    claimed = models.DecimalField(**MONEY, default=0, editable=False)
    expired = models.DecimalField(**MONEY, default=0, editable=False)
    # The expiry warnings sent (30, then 7 days before the period ends).
    warned_days = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["budget", "partner__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "budget", "partner"],
                name="mdf_allocation_unique",
                violation_error_message="This partner already has an allocation of this budget.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0, reserved__gte=0, claimed__gte=0, expired__gte=0),
                name="mdf_allocation_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=F("reserved") + F("claimed") + F("expired")),
                name="mdf_allocation_not_overdrawn",
                violation_error_message=(
                    "An allocation cannot reserve, claim or expire more than its amount."
                ),
            ),
            tenant_key("mdf_allocation_tenant_key"),
            *tenant_foreign_keys("mdf_allocation", "budget", "partner"),
        ]
        indexes = [models.Index(fields=["partner", "budget"], name="mdf_allocation_partner")]

    def __str__(self) -> str:
        return f"{self.partner} · {self.budget}"

    @property
    def available(self):  # type: ignore[no-untyped-def]
        return self.amount - self.reserved - self.claimed - self.expired


class AllocationChange(TenantOwned):
    """One change of an allocation's money, with who made it and why: the
    allocation's history (append-only by convention; services write it in
    the same transaction as the counter they move)."""

    class Kind(models.TextChoices):
        ALLOCATED = "allocated", "Allocated"
        ADJUSTED = "adjusted", "Amount changed"
        MOVED_IN = "moved_in", "Moved in from another partner"
        MOVED_OUT = "moved_out", "Moved out to another partner"
        ACCRUED = "accrued", "Co-op accrued from a won deal"
        ACCRUAL_REVERSED = "accrual_reversed", "Co-op accrual reversed"
        RESERVED = "reserved", "Reserved by an approved request"
        RELEASED = "released", "Reservation released"
        CLAIMED = "claimed", "Claimed (approved claim)"
        EXPIRED = "expired", "Expired at the period's end"

    allocation = models.ForeignKey(
        Allocation, on_delete=models.CASCADE, related_name="changes", db_constraint=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.DecimalField(
        **MONEY, help_text="The change of the counter the kind names (signed)."
    )
    reason = models.CharField(max_length=300, blank=True)
    request = models.ForeignKey(
        "FundRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["allocation", "created_at"], name="mdf_change_time")]
        constraints = [*tenant_foreign_keys("mdf_change", "allocation", "request")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class CoopAccrual(TenantOwned):
    """A co-op fund's share of one won deal, written when the win is
    recorded and offset by a negative row when it is reversed or its amount
    corrected: the rows of a registration sum to what it should have
    accrued. ``sequence`` makes each write exactly-once."""

    registration = models.ForeignKey(
        DealRegistration, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    allocation = models.ForeignKey(
        Allocation, on_delete=models.PROTECT, related_name="accruals", db_constraint=False
    )
    sequence = models.PositiveSmallIntegerField()
    amount = models.DecimalField(**MONEY)
    basis_amount = models.DecimalField(
        **MONEY, help_text="The won amount (base currency) it was computed on."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "registration", "allocation", "sequence"],
                name="mdf_coopaccrual_once",
            ),
            *tenant_foreign_keys("mdf_coopaccrual", "registration", "allocation"),
        ]

    def __str__(self) -> str:
        return f"{self.registration_id}: {self.amount}"
