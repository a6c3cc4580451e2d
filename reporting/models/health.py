"""Partner health: the tenant's settings (weights of the declared components,
at-risk thresholds), the daily scores (the history) and at-risk episodes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from partners.models import Partner
from prm.tenancy.constraints import tenant_foreign_keys
from prm.tenancy.declarations import HealthComponent
from prm.tenancy.models import Tenant, TenantOwned
from prm.tenancy.registry import health_components

MAX_WEIGHT = 100


def weight_errors(weights: Any, declared: Iterable[HealthComponent]) -> list[str]:
    """What is wrong with ``weights`` (component key -> int 0..100) against
    the declared components; missing keys take their default weight."""
    if not isinstance(weights, dict):
        return ["Weights must be a mapping of component keys to numbers."]
    components = {c.key: c for c in declared}
    errors = [
        f"“{key}” is not a health component (known: {', '.join(components)})."
        for key in weights
        if key not in components
    ]
    for key, value in weights.items():
        if key in components and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WEIGHT
        ):
            errors.append(f"The weight of {components[key].name} must be a whole number 0-100.")
    if not errors:
        total = sum(weights.get(key, c.default_weight) for key, c in components.items())
        if total <= 0:
            errors.append("Weights must add up to more than 0.")
    return errors


class HealthSettings(TenantOwned):
    """How a tenant's partner health is scored and when a partner is at
    risk. One row per tenant, made with the defaults on first use."""

    weights = models.JSONField(
        default=dict,
        blank=True,
        help_text="Component key -> weight 0-100; a component not named has its default.",
    )
    score_drop_points = models.PositiveSmallIntegerField(
        "score drop (points)",
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="At risk when the score fell this many points below its best in the window.",
    )
    score_drop_days = models.PositiveSmallIntegerField(
        "score drop window (days)",
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    no_registration_days = models.PositiveSmallIntegerField(
        "days without a registration",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(730)],
        help_text="At risk when the partner submitted no registration in this many days.",
    )
    pipeline_drop_percent = models.PositiveSmallIntegerField(
        "pipeline drop (%)",
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="At risk when the approved pipeline fell this much against the period before.",
    )
    pipeline_period_days = models.PositiveSmallIntegerField(
        "pipeline period (days)",
        default=90,
        validators=[MinValueValidator(7), MaxValueValidator(365)],
        help_text="The pipeline compared: this many days against the same number before.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    # The fields the at-risk rules read (``AtRiskRule.evaluate``'s thresholds).
    THRESHOLDS = (
        "score_drop_points",
        "score_drop_days",
        "no_registration_days",
        "pipeline_drop_percent",
        "pipeline_period_days",
    )

    class Meta:
        verbose_name = "health score settings"
        verbose_name_plural = "health score settings"
        constraints = [models.UniqueConstraint(fields=["tenant"], name="one_health_settings")]

    def __str__(self) -> str:
        return "Health score settings"

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> HealthSettings:
        row, _ = cls.objects.get_or_create(tenant=tenant)
        return row

    def clean(self) -> None:
        super().clean()
        errors = weight_errors(self.weights, health_components().values())
        if errors:
            raise ValidationError({"weights": errors})

    def weight_table(self) -> dict[str, int]:
        """Declared component key -> its weight for this tenant."""
        weights = self.weights if isinstance(self.weights, dict) else {}
        return {
            key: int(weights.get(key, component.default_weight))
            for key, component in health_components().items()
        }

    def thresholds(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.THRESHOLDS}


@dataclass(frozen=True)
class Part:
    """One component of a stored score: its value 0..1 (None: no data),
    weight, and contribution in points of the score."""

    key: str
    name: str
    value: Decimal | None
    weight: int
    contribution: Decimal
    why: str

    @property
    def counted(self) -> bool:
        return self.value is not None and self.weight > 0

    @property
    def percent(self) -> Decimal | None:
        return None if self.value is None else self.value * 100


class HealthScore(TenantOwned):
    """A partner's health score on a day (0-100), with what made it: one
    row per partner and day, the history."""

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    day = models.DateField()
    score = models.DecimalField(max_digits=5, decimal_places=1)
    # [{key, name, value, weight, contribution, why}]; value and contribution
    # as decimal strings (value null: no data).
    components = models.JSONField(default=list)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "day"], name="healthscore_partner_day"),
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=100), name="healthscore_0_100"
            ),
            *tenant_foreign_keys("healthscore", "partner"),
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="healthscore_tenant_day")]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.day}: {self.score}"

    def parts(self) -> list[Part]:
        return [
            Part(
                key=item["key"],
                name=item["name"],
                value=None if item.get("value") is None else Decimal(item["value"]),
                weight=int(item["weight"]),
                contribution=Decimal(item.get("contribution") or 0),
                why=item.get("why", ""),
            )
            for item in self.components
        ]


class AtRiskEpisode(TenantOwned):
    """A stretch of days on which at-risk rules flagged a partner: opened on
    the first such day, closed on the first day none did. At most one open
    per partner; its channel manager is told once (``notified_at``)."""

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    # [{rule, text}]: the rules firing on the latest day evaluated while open
    # (on the day it closed: those of its last day at risk).
    reasons = models.JSONField(default=list)
    notified_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_on"]
        verbose_name = "at-risk episode"
        constraints = [
            models.UniqueConstraint(
                fields=["partner"],
                condition=models.Q(closed_on__isnull=True),
                name="one_open_atrisk_episode",
            ),
            models.CheckConstraint(
                condition=models.Q(closed_on__isnull=True)
                | models.Q(closed_on__gte=models.F("opened_on")),
                name="atrisk_closes_after_opening",
            ),
            *tenant_foreign_keys("atriskepisode", "partner"),
        ]
        indexes = [
            models.Index(fields=["tenant", "closed_on"], name="atrisk_tenant_closed"),
        ]

    def __str__(self) -> str:
        return f"At risk since {self.opened_on}"

    @property
    def is_open(self) -> bool:
        return self.closed_on is None

    def reason_texts(self) -> list[str]:
        return [str(reason.get("text", "")) for reason in self.reasons]

    def object_permission_target(self) -> Partner:
        return self.partner
