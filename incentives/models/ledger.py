"""The append-only ledger, its checksum, and each deal's accrual state."""

import hashlib
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

from dealreg.models import DealRegistration
from partners.models import Partner
from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import Tenant, TenantOwned, User, currency_validator

from .fields import MONEY, RATE
from .plans import PlanVersion

# An optional reference of the ledger to tenant data: a composite foreign
# key on (tenant_id, id) in Meta.constraints instead of the field's own, and
# indexed by the ledger's own partial indexes.
OPTIONAL_REFERENCE: dict[str, Any] = {
    "on_delete": models.PROTECT,
    "null": True,
    "blank": True,
    "db_index": False,
    "db_constraint": False,
}


# The ledger's references to tenant data (each a composite foreign key);
# check_ledger verifies that their constraints exist.
TENANT_REFERENCES = (
    "partner",
    "registration",
    "plan_version",
    "dispute",
    "payout_run",
    "reverses",
)


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
        # Money owed for an approved MDF claim (the mdf app writes it).
        REIMBURSEMENT = "reimbursement", "MDF reimbursement"

    class Source(models.TextChoices):
        DEAL = "deal", "Won deal"
        SPIFF = "spiff", "SPIFF"
        REBATE = "rebate", "Rebate period"
        DISPUTE = "dispute", "Dispute"
        PAYOUT_RUN = "payout_run", "Payout run"
        MANUAL = "manual", "Manual adjustment"
        MDF_CLAIM = "mdf_claim", "MDF claim"

    # Foreign keys get no single-column index of their own: the composite
    # and partial indexes below serve every lookup, and each index costs
    # every one of millions of inserts (see bench-payouts). References to
    # tenant data are composite foreign keys on (tenant_id, id) (Meta), so
    # they must stay in the entry's tenant. The tenant itself needs no key
    # of its own: (tenant, partner) must match a partner's, and a partner's
    # tenant exists (its foreign key). ``created_by`` is a plain foreign
    # key: people are not tenant data.
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
    kind = models.CharField(max_length=16, choices=Kind.choices)
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
            tenant_key("ledgerentry_tenant_key"),
            *tenant_foreign_keys("ledgerentry", *TENANT_REFERENCES),
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

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Ledger entries are append-only; write a new entry instead.")
        self.checksum = self.compute_checksum()
        super().save(*args, **kwargs)


def canonical_decimal(value: Decimal | int | str | None) -> str:
    """Decimal text independent of the stored scale (12.5 == 12.500)."""
    if value is None:
        return ""
    text = format((value if type(value) is Decimal else Decimal(value)).normalize(), "f")
    return "0" if text in ("-0", "") else text


def entry_checksum(*values: object) -> str:
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
    re-syncs registrations changed since. Its registration is a composite
    foreign key, as the ledger's references are (which also covers the
    tenant)."""

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
        constraints = [*tenant_foreign_keys("accrualstate", "registration")]
        indexes = [
            models.Index(
                fields=["tenant"], condition=~models.Q(problem=""), name="accrualstate_problem"
            )
        ]
