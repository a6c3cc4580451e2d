"""Incentives: plans and their versioned rules, exchange rates, the
append-only ledger, statements, payout runs and disputes.

Every cent a partner is owed or paid is a ``LedgerEntry`` that names the
deal (or rebate period, dispute, payout run) it came from, the plan version
whose rule produced it and the exchange rate used. Entries are never changed
or deleted (a database trigger refuses it); corrections are new entries.
"""

import hashlib
from datetime import date
from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from dealreg.models import DealRegistration, ProductLine
from partners.models import Partner, Region, Tier
from prm.tenancy.models import Tenant, TenantOwned, User, currency_validator

from .periods import Period

MONEY = {"max_digits": 18, "decimal_places": 3}
RATE = {"max_digits": 18, "decimal_places": 8}
PERCENT = {"max_digits": 7, "decimal_places": 4}


class IncentiveSettings(TenantOwned):
    """A tenant's payout policy. One row per tenant."""

    statement_period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTH)
    holding_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="Days after a deal's close date before its accrual can be paid "
        "(refunds and cancellations usually arrive within this window).",
    )
    minimum_payout = models.DecimalField(
        **MONEY,
        default=Decimal("50"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="In the base currency; smaller balances carry forward.",
    )
    payout_target_days = models.PositiveSmallIntegerField(
        default=30, help_text="The promise: accruals are paid within this many days of close."
    )

    class Meta:
        verbose_name = "incentive settings"
        verbose_name_plural = "incentive settings"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="incentivesettings_one_per_tenant")
        ]

    def __str__(self) -> str:
        return "Incentive settings"

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> "IncentiveSettings":
        found = cls.objects.filter(tenant=tenant).first()
        if found is None:
            found, _ = cls.objects.get_or_create(tenant=tenant)
        return found


class ExchangeRate(TenantOwned):
    """One unit of ``currency`` is worth ``rate`` units of the tenant's base
    currency from ``valid_from`` until the next rate of that currency."""

    currency = models.CharField(max_length=3, validators=[currency_validator])
    valid_from = models.DateField()
    rate = models.DecimalField(**RATE, validators=[MinValueValidator(Decimal("0.00000001"))])
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "currency", "valid_from"], name="exchangerate_unique"
            ),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="exchangerate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate} from {self.valid_from}"


class Plan(TenantOwned):
    class Kind(models.TextChoices):
        COMMISSION = "commission", "Commission (per won deal)"
        REBATE = "rebate", "Rebate (on period volume)"
        SPIFF = "spiff", "SPIFF (bonus campaign)"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(
        default=True, help_text="Inactive plans produce no new entries."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="plan_name_unique")]

    def __str__(self) -> str:
        return self.name


class PlanVersion(TenantOwned):
    """The rule of a plan from ``effective_from`` on. A published version
    that has produced an entry is frozen (a database trigger refuses changes
    to its rule); a change is a new version with a later effective date."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    class RateType(models.TextChoices):
        PERCENT = "percent", "Percentage of the amount"
        FIXED = "fixed", "Fixed amount"
        BRACKETS_WHOLE = "brackets_whole", "Brackets: whole amount at its bracket's rate"
        BRACKETS_MARGINAL = "brackets_marginal", "Brackets: each slice at its own rate"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    effective_from = models.DateField(help_text="Deals closed on or after this date.")
    effective_to = models.DateField(
        null=True, blank=True, help_text="Last close date covered; empty for open-ended."
    )
    rate_type = models.CharField(max_length=20, choices=RateType.choices)
    rate_percent = models.DecimalField(
        **PERCENT,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="For percentage plans, e.g. 8.5 for 8.5%.",
    )
    fixed_amount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="For fixed plans, in the base currency (per deal; per period for rebates).",
    )
    period = models.CharField(
        max_length=10,
        choices=Period.choices,
        default=Period.QUARTER,
        help_text="The period of rebate volume, quotas and per-period caps.",
    )
    quota = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Period attainment (won volume, base currency) above which the accelerator "
        "applies.",
    )
    accelerator = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1"))],
        help_text="Multiplier above quota, e.g. 1.5.",
    )
    cap_per_deal = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    cap_per_period = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    # Eligibility: empty means every one.
    tiers = models.ManyToManyField(Tier, blank=True, related_name="+")
    partner_types = ArrayField(
        models.CharField(max_length=20, choices=Partner.Type.choices), default=list, blank=True
    )
    regions = models.ManyToManyField(Region, blank=True, related_name="+")
    product_lines = models.ManyToManyField(
        ProductLine,
        blank=True,
        related_name="+",
        help_text="A deal qualifies when it names at least one of these.",
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    published_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    # The columns a database trigger freezes once the version has entries.
    RULE_FIELDS = (
        "plan_id",
        "effective_from",
        "rate_type",
        "rate_percent",
        "fixed_amount",
        "period",
        "quota",
        "accelerator",
        "cap_per_deal",
        "cap_per_period",
        "partner_types",
    )

    class Meta:
        ordering = ["plan__name", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="planversion_number_unique"),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gte=models.F("effective_from")),
                name="planversion_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan} v{self.number}"

    def clean(self) -> None:
        super().clean()
        errors = {}
        needs = {
            self.RateType.PERCENT: "rate_percent",
            self.RateType.FIXED: "fixed_amount",
        }
        field = needs.get(self.rate_type)
        if field and getattr(self, field) is None:
            errors[field] = "Required for this rate type."
        # A fixed rebate pays its amount once the volume reaches the quota:
        # there the quota stands alone (rules.volume_rebate).
        fixed_rebate = (
            self.rate_type == self.RateType.FIXED
            and self.plan_id is not None
            and self.plan.kind == Plan.Kind.REBATE
        )
        if (self.quota is None) != (self.accelerator is None) and not (
            fixed_rebate and self.accelerator is None
        ):
            errors["accelerator"] = "Give both a quota and an accelerator, or neither."
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            errors["effective_to"] = "Must be on or after the effective-from date."
        if errors:
            raise ValidationError(errors)

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    @property
    def is_bracketed(self) -> bool:
        return self.rate_type in (self.RateType.BRACKETS_WHOLE, self.RateType.BRACKETS_MARGINAL)


class Bracket(TenantOwned):
    """From ``lower`` (base currency, inclusive) up to the next bracket's
    lower bound, ``rate_percent`` applies."""

    version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="brackets")
    lower = models.DecimalField(
        "from amount", **MONEY, validators=[MinValueValidator(Decimal("0"))]
    )
    rate_percent = models.DecimalField(**PERCENT, validators=[MinValueValidator(Decimal("0"))])

    class Meta:
        ordering = ["lower"]
        constraints = [
            models.UniqueConstraint(fields=["version", "lower"], name="bracket_lower_unique")
        ]

    def __str__(self) -> str:
        return f"from {self.lower}: {self.rate_percent}%"


# An optional reference of the ledger to tenant data: checked once per
# statement by the database (migration 0004), not by a foreign key, and
# indexed by the ledger's own partial indexes.
OPTIONAL_REFERENCE = {
    "on_delete": models.PROTECT,
    "null": True,
    "blank": True,
    "db_index": False,
    "db_constraint": False,
}


class LedgerEntry(TenantOwned):
    """One line of money owed to (positive) or paid to / taken back from
    (negative) a partner. Append-only: a database trigger refuses UPDATE and
    DELETE. ``amount`` is in ``currency``; ``amount_base`` is the same value
    in the tenant's base currency at ``fx_rate``."""

    class Kind(models.TextChoices):
        ACCRUAL = "accrual", "Accrual"
        ADJUSTMENT = "adjustment", "Adjustment"
        CLAWBACK = "clawback", "Clawback"
        PAYOUT = "payout", "Payout"

    class Source(models.TextChoices):
        DEAL = "deal", "Won deal"
        SPIFF = "spiff", "SPIFF"
        REBATE = "rebate", "Rebate period"
        DISPUTE = "dispute", "Dispute"
        PAYOUT_RUN = "payout_run", "Payout run"
        MANUAL = "manual", "Manual adjustment"

    # Foreign keys get no single-column index of their own: the composite
    # and partial indexes below serve every lookup, and each index costs
    # every one of millions of inserts (see bench-payouts). References to
    # tenant data are checked by the database once per statement, not per
    # row, and must stay in the entry's tenant (``db_constraint=False``
    # here; migration 0004 has the triggers). ``created_by`` is a plain
    # foreign key: people are not tenant data.
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
        db_constraint=False,
    )
    partner = models.ForeignKey(
        Partner,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    fx_rate = models.DecimalField("exchange rate", **RATE)
    amount_base = models.DecimalField("amount (base currency)", **MONEY)
    base_currency = models.CharField(max_length=3)
    source = models.CharField(max_length=12, choices=Source.choices)
    registration = models.ForeignKey(DealRegistration, related_name="+", **OPTIONAL_REFERENCE)
    plan_version = models.ForeignKey(PlanVersion, related_name="entries", **OPTIONAL_REFERENCE)
    dispute = models.ForeignKey("Dispute", related_name="+", **OPTIONAL_REFERENCE)
    payout_run = models.ForeignKey("PayoutRun", related_name="+", **OPTIONAL_REFERENCE)
    reverses = models.ForeignKey("self", related_name="reversed_by", **OPTIONAL_REFERENCE)
    basis_amount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="The deal amount or period volume it was computed on.",
    )
    basis_currency = models.CharField(max_length=3, blank=True)
    period_start = models.DateField(
        help_text="First day of the rule period it belongs to (quota, caps, rebates)."
    )
    statement_start = models.DateField(
        help_text="First day of the statement period it is booked in."
    )
    effective_date = models.DateField(help_text="Close date for deals; booking date otherwise.")
    available_on = models.DateField(help_text="Payable from this date (holding period).")
    description = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    created_via = models.CharField(max_length=60, help_text="The task or screen that wrote it.")
    created_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=200)
    checksum = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="ledgerentry_idempotency_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="accrual") | models.Q(amount__gte=0),
                name="ledgerentry_accrual_not_negative",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["clawback", "payout"]) | models.Q(amount__lte=0),
                name="ledgerentry_clawback_payout_not_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(fx_rate__gt=0), name="ledgerentry_fx_positive"
            ),
        ]
        # A partner belongs to one tenant, so indexes lead with the partner
        # (which also serves the partner foreign key); rarely set foreign
        # keys get partial indexes that cost nothing when NULL.
        indexes = [
            models.Index(
                fields=["partner", "statement_start", "created_at"], name="ledger_statement"
            ),
            models.Index(fields=["partner", "available_on"], name="ledger_payable"),
            models.Index(
                fields=["registration", "plan_version"],
                condition=models.Q(registration__isnull=False),
                name="ledger_registration",
            ),
            models.Index(
                fields=["plan_version", "partner", "period_start"],
                condition=models.Q(plan_version__isnull=False),
                name="ledger_version_period",
            ),
            *(
                models.Index(
                    fields=[fk], condition=models.Q(**{f"{fk}__isnull": False}), name=f"ledger_{fk}"
                )
                for fk in ("dispute", "payout_run", "reverses", "created_by")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"

    CHECKSUM_FIELDS = (
        "tenant_id",
        "partner_id",
        "kind",
        "amount",
        "currency",
        "fx_rate",
        "amount_base",
        "source",
        "registration_id",
        "plan_version_id",
        "effective_date",
        "available_on",
        "idempotency_key",
    )

    def compute_checksum(self) -> str:
        """A digest of what the entry says; ``check_ledger`` recomputes it to
        prove no entry was changed behind the trigger's back."""
        return entry_checksum(*(getattr(self, name) for name in self.CHECKSUM_FIELDS))

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Ledger entries are append-only; write a new entry instead.")
        self.checksum = self.compute_checksum()
        super().save(*args, **kwargs)


def canonical_decimal(value) -> str:
    """Decimal text independent of the stored scale (12.5 == 12.500)."""
    if value is None:
        return ""
    text = format((value if type(value) is Decimal else Decimal(value)).normalize(), "f")
    return "0" if text in ("-0", "") else text


def entry_checksum(*values) -> str:
    parts = []
    for value in values:
        if isinstance(value, Decimal):
            parts.append(canonical_decimal(value))
        elif value is None:
            parts.append("")
        else:
            parts.append(str(value))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class DealAccrualState(TenantOwned):
    """When incentives last brought a registration's entries in line with
    its outcome, and why it could not (e.g. no exchange rate). The sweep
    re-syncs registrations changed since. Its references are checked once per
    statement, as the ledger's are."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_constraint=False
    )
    registration = models.OneToOneField(
        DealRegistration,
        on_delete=models.CASCADE,
        related_name="accrual_state",
        db_constraint=False,
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    problem = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant"], condition=~models.Q(problem=""), name="accrualstate_problem"
            )
        ]


class Statement(TenantOwned):
    """A partner's statement for an ended period, issued once: the totals of
    the entries booked in it. ``check_ledger`` proves they still add up."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="statements")
    period = models.CharField(max_length=10, choices=Period.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    currency = models.CharField(max_length=3)
    opening = models.DecimalField(**MONEY)
    accruals = models.DecimalField(**MONEY)
    adjustments = models.DecimalField(**MONEY)
    clawbacks = models.DecimalField(**MONEY)
    payouts = models.DecimalField(**MONEY)
    closing = models.DecimalField(**MONEY)
    line_count = models.PositiveIntegerField()
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner", "period_start"], name="statement_unique"
            )
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
            )
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

    run = models.ForeignKey(PayoutRun, on_delete=models.CASCADE, related_name="lines")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices)
    payable = models.DecimalField(**MONEY)
    entry_count = models.PositiveIntegerField(default=0)
    hold_reason = models.CharField(max_length=300, blank=True)
    payout_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["partner__name"]
        constraints = [models.UniqueConstraint(fields=["run", "partner"], name="payoutline_unique")]

    def __str__(self) -> str:
        return f"{self.run} {self.partner}"


class Settlement(TenantOwned):
    """Which payout settled which entry: each entry is settled at most once
    (a unique constraint). For accruals it records the close-to-paid time."""

    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="settlement")
    payout = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="settles")
    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, related_name="settlements")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+")
    paid_on = models.DateField(null=True, blank=True)
    days_close_to_paid = models.IntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["run", "partner"], name="settlement_run_partner")]


class Dispute(TenantOwned):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        ADJUSTED = "adjusted", "Resolved by adjustment"
        REJECTED = "rejected", "Rejected"

    code = models.CharField(max_length=12, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="disputes")
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="disputes")
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    adjustment = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="dispute_code_unique")
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.ANSWERED)

    def object_permission_target(self) -> Partner:
        return self.partner


class DisputeMessage(TenantOwned):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    from_partner = models.BooleanField()
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
