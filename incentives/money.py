"""Money: one rounding rule, in one place.

Amounts are ``Decimal`` from end to end; no float ever touches them.

**The rounding rule.** Calculations run at full precision; an amount is
rounded once, when it becomes a ledger entry, to the minor unit of its
currency (two decimals, none for JPY/KRW/..., three for BHD/KWD/...), half
away from zero (``ROUND_HALF_UP``, the commercial rule partners check by
hand). A base-currency amount is the entry amount times the exchange rate,
rounded the same way. A reversal is the exact negation of what it reverses
(amount and base amount), never a recalculation, so a deal that is won and
then refunded nets to zero in both currencies. Splitting an amount (e.g. one
payment over several lines) uses ``allocate``, which hands out the rounding
remainder a minor unit at a time so the parts always sum to the whole.
"""

from decimal import ROUND_HALF_UP, Decimal

from prm import format as fmt
from prm.format import MINOR_DIGITS as _MINOR_DIGITS
from prm.format import minor_digits

ZERO = Decimal("0")

__all__ = ["ZERO", "allocate", "format_money", "minor_digits", "quantum", "round_money", "to_base"]

_QUANTUM = {0: Decimal("1"), 2: Decimal("0.01"), 3: Decimal("0.001")}


def quantum(currency: str) -> Decimal:
    return _QUANTUM[minor_digits(currency)]


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The rounding rule (see the module text)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(amount).__name__}")
    # quantum(currency), inlined: this runs for every entry of a bulk accrual.
    return amount.quantize(_QUANTUM[_MINOR_DIGITS.get(currency, 2)], rounding=ROUND_HALF_UP)


def to_base(amount: Decimal, rate: Decimal, base_currency: str) -> Decimal:
    """``amount`` (already rounded) in the base currency at ``rate``."""
    return round_money(amount * rate, base_currency)


def allocate(total: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` in proportion to ``weights`` so the parts sum exactly
    to ``total``: each part is rounded toward zero, then the remaining minor
    units go one each to the parts with the largest remainders (ties to the
    earlier part)."""
    if not weights:
        raise ValueError("allocate needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("weights cannot be negative")
    unit = quantum(currency)
    total = round_money(total, currency)
    weight_sum = sum(weights, ZERO)
    if weight_sum == 0:
        weights = [Decimal(1)] * len(weights)
        weight_sum = Decimal(len(weights))
    sign = -1 if total < 0 else 1
    units = int(abs(total) / unit)
    exact = [Decimal(units) * w / weight_sum for w in weights]
    parts = [int(e) for e in exact]
    leftover = units - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:leftover]:
        parts[i] += 1
    return [sign * p * unit for p in parts]


def format_money(amount: Decimal | None, currency: str) -> str:
    """Kept for the existing callers: the one formatting rule is
    :func:`prm.format.money`."""
    return fmt.money(amount, currency)
