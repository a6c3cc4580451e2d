"""The arithmetic of plan rules, free of the database.

A rule's money parameters (fixed amounts, bracket bounds, quota, caps) are
in the tenant's base currency. A deal is computed in its own currency: the
parameters are converted into it at the deal's exchange rate (``rate``: base
units per unit of the deal currency, 1 for base-currency deals), so a
percentage of a deal never passes through a conversion and comes out exact.
Results are unrounded; ``money.round_money`` rounds once, when the entry is
written.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from .money import ZERO

if TYPE_CHECKING:
    from .models import PlanVersion

HUNDRED = Decimal(100)
ONE = Decimal(1)


@dataclass(frozen=True)
class Rule:
    rate_type: str
    rate_percent: Decimal | None = None
    fixed_amount: Decimal | None = None
    brackets: tuple[tuple[Decimal, Decimal], ...] = field(default_factory=tuple)
    quota: Decimal | None = None
    accelerator: Decimal | None = None
    cap_per_deal: Decimal | None = None
    cap_per_period: Decimal | None = None

    @property
    def order_dependent(self) -> bool:
        """Whether a deal's commission depends on what the partner already
        won and earned in the rule period (an accelerator above a quota, a
        per-period cap)."""
        return (
            self.quota is not None and self.accelerator is not None
        ) or self.cap_per_period is not None

    @classmethod
    def of(cls, version: "PlanVersion") -> "Rule":
        """The rule of a ``PlanVersion`` (brackets prefetched or fetched)."""
        return cls(
            rate_type=version.rate_type,
            rate_percent=version.rate_percent,
            fixed_amount=version.fixed_amount,
            brackets=tuple(sorted((b.lower, b.rate_percent) for b in version.brackets.all())),
            quota=version.quota,
            accelerator=version.accelerator,
            cap_per_deal=version.cap_per_deal,
            cap_per_period=version.cap_per_period,
        )


def bracketed(
    amount: Decimal,
    brackets: Sequence[tuple[Decimal, Decimal]],
    *,
    marginal: bool,
    scale: Decimal = ONE,
) -> Decimal:
    """Commission on ``amount`` by brackets [(lower, percent), ...] whose
    bounds are divided by ``scale`` (the exchange rate) first.

    Whole: the entire amount at the rate of the bracket it falls in.
    Marginal: each slice of the amount at the rate of its own bracket.
    Below the first bracket's lower bound nothing is earned."""
    if amount <= 0 or not brackets:
        return ZERO
    bounds = [(lower / scale, percent) for lower, percent in sorted(brackets)]
    if not marginal:
        rate = None
        for lower, percent in bounds:
            if amount >= lower:
                rate = percent
        return ZERO if rate is None else amount * rate / HUNDRED
    total = ZERO
    for i, (lower, percent) in enumerate(bounds):
        if amount <= lower:
            break
        upper = bounds[i + 1][0] if i + 1 < len(bounds) else None
        top = amount if upper is None else min(amount, upper)
        total += (top - lower) * percent / HUNDRED
    return total


def base_commission(rule: Rule, amount: Decimal, rate: Decimal = ONE) -> Decimal:
    """What the rule pays on ``amount`` (deal currency) before accelerator
    and caps."""
    kind = rule.rate_type
    if kind == "percent":
        return amount * (rule.rate_percent or ZERO) / HUNDRED
    if kind == "fixed":
        return (rule.fixed_amount or ZERO) / rate if amount > 0 else ZERO
    if kind in ("brackets_whole", "brackets_marginal"):
        return bracketed(amount, rule.brackets, marginal=kind == "brackets_marginal", scale=rate)
    raise ValueError(f"unknown rate type {kind!r}")


def deal_commission(
    rule: Rule,
    amount: Decimal,
    *,
    rate: Decimal = ONE,
    attainment_before: Decimal = ZERO,
    accrued_in_period: Decimal = ZERO,
) -> Decimal:
    """Commission on one deal of ``amount`` (deal currency, exchange rate
    ``rate`` to base), unrounded, in the deal currency.

    ``attainment_before``: the partner's won volume in the rule period before
    this deal (base currency); the part of this deal above the quota earns
    ``accelerator`` times. ``accrued_in_period``: what this rule already
    accrued for the partner in the period (base currency), for the period
    cap."""
    if amount <= 0:
        return ZERO
    value = base_commission(rule, amount, rate)
    if rule.quota is not None and rule.accelerator is not None:
        amount_base = amount * rate
        above = attainment_before + amount_base - rule.quota
        if above > 0:
            share = min(above, amount_base) / amount_base
            value = value * (ONE + (rule.accelerator - ONE) * share)
    if rule.cap_per_deal is not None:
        value = min(value, rule.cap_per_deal / rate)
    if rule.cap_per_period is not None:
        room = max(rule.cap_per_period - accrued_in_period, ZERO) / rate
        value = min(value, room)
    return value


def volume_rebate(rule: Rule, volume: Decimal) -> Decimal:
    """A rebate on a period's volume (base currency), unrounded: percentage
    or brackets of the volume, or the fixed amount once the volume reaches
    the quota (any volume without a quota); capped per period."""
    if volume <= 0:
        return ZERO
    if rule.rate_type == "fixed":
        reached = rule.quota is None or volume >= rule.quota
        value = (rule.fixed_amount or ZERO) if reached else ZERO
    else:
        value = base_commission(rule, volume)
        if rule.quota is not None and rule.accelerator is not None and volume > rule.quota:
            share = (volume - rule.quota) / volume
            value = value * (ONE + (rule.accelerator - ONE) * share)
    if rule.cap_per_period is not None:
        value = min(value, rule.cap_per_period)
    return value
