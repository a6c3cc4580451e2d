"""A tenant's payout policy and its exchange-rate table."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from prm.tenancy.models import Tenant, TenantOwned, User, currency_validator

from ..periods import Period
from .fields import MONEY, RATE


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
    partner_users_see_statements = models.BooleanField(
        "partner users see their organisation's statements",
        default=False,
        help_text="Partner users, not only partner admins, may open their organisation's "
        "statements, read-only: disputes stay with the partner admins.",
    )
    payout_maker_checker = models.BooleanField(
        "four eyes on payout runs",
        default=True,
        help_text="The person who starts a payout run cannot approve it: another finance "
        "person must (maker-checker).",
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
