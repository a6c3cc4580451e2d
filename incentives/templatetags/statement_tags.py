"""Template filters of the statement and dispute pages."""

from decimal import Decimal

from django import template

from incentives.models import LedgerEntry
from incentives.money import format_money
from incentives.wording import cause as entry_cause

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """``1234.5|money:"EUR"`` → ``1,234.50 EUR`` (the currency's own decimals)."""
    return format_money(amount, currency)


@register.filter
def rate(value: Decimal | None) -> str:
    """An exchange rate without trailing zeros: 1.0837, 1."""
    if value is None:
        return ""
    return format(value.normalize(), "f")


@register.filter
def cause(entry: LedgerEntry) -> str:
    """What caused a ledger entry, in business words ("Deal won")."""
    return entry_cause(entry)
