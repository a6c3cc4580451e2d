"""One way to show numbers, money and dates (issue #15's formatting rules).

Every page, mail and export formats for people through these functions (the
templates through the filters of the same names in ``{% load prm %}``), so a
number reads the same everywhere:

- money: thousands separators, the currency's own minor digits, the code after
  the amount: ``120,000.00 USD``, ``1,500 JPY``, ``-1,234.500 KWD``;
- numbers: ``12,345``, ``1,234.5``; percentages ``87.5%``;
- one date format (``3 Dec 2026``) and one date-time format
  (``3 Dec 2026, 14:05``), in the active time zone: the tenancy middleware
  activates the tenant's zone for each request, tasks and mails run under
  ``timezone.override(tenant.tzinfo)``;
- plurals (``1 row``, ``2 rows``, ``3 entries``) and possessives
  (``Acme's``, ``Siemens'``).

Nothing here imports an app: the foundation owns the currency table, and
``incentives.money`` (the rounding rule) reads it from here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.utils import timezone

# ISO 4217 currencies whose minor unit is not the cent.
MINOR_DIGITS: dict[str, int] = {
    **dict.fromkeys(
        (
            *("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW"),
            *("PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"),
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
EMPTY = "\N{EN DASH}"  # what an absent percentage shows


def minor_digits(currency: str) -> int:
    """Decimals of the currency's minor unit: 2, or 0 (JPY), or 3 (KWD)."""
    return MINOR_DIGITS.get((currency or "").upper(), 2)


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def money(amount: Decimal | int | None, currency: str) -> str:
    """``Decimal("120000")``, ``"USD"`` → ``120,000.00 USD``; None → ``""``."""
    value = _decimal(amount)
    if value is None:
        return ""
    code = (currency or "").upper()
    text = f"{value:,.{minor_digits(code)}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]  # -0.00 reads as 0.00
    return f"{text} {code}".strip()


def number(value: object, places: int | None = None) -> str:
    """``12345`` → ``12,345``; ``1234.5`` → ``1,234.5``; with places: fixed."""
    d = _decimal(value)
    if d is None:
        return ""
    if places is not None:
        return f"{d:,.{int(places)}f}"
    if d == d.to_integral_value():
        return f"{d.to_integral_value():,f}"
    return f"{d.normalize():,f}"


def percent(value: object, places: int = 1) -> str:
    """A percentage number: ``87.5`` → ``87.5%``, ``100`` → ``100%``; None → an en dash."""
    d = _decimal(value)
    if d is None:
        return EMPTY
    text = f"{d:,.{int(places)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def _local(value: dt.datetime, tz: dt.tzinfo | None = None) -> dt.datetime:
    if timezone.is_naive(value):
        return value
    return timezone.localtime(value, tz)


def day(value: dt.date | dt.datetime | None, tz: dt.tzinfo | None = None) -> str:
    """A date, or a datetime in ``tz`` (default: the active time zone):
    ``3 Dec 2026``."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = _local(value, tz)
    if not isinstance(value, dt.date):
        return str(value)
    return _date(value)


def _date(value: dt.date) -> str:
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def moment(value: dt.datetime | dt.date | None, tz: dt.tzinfo | None = None) -> str:
    """A datetime in ``tz`` (default: the active time zone):
    ``3 Dec 2026, 14:05``."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return day(value)
    local = _local(value, tz)
    return f"{_date(local)}, {local:%H:%M}"


def plural(count: object, word: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``; ``word`` may name both forms:
    ``"entry,entries"``."""
    singular, _, many = word.partition(",")
    if not many:
        many = singular + "s"
    if isinstance(count, list | tuple | set | dict):
        count = len(count)
    n = _decimal(count)
    if n is None:
        n = Decimal(0)
    return f"{number(n)} {singular if n == 1 else many}"


def possessive(name: object) -> str:
    """``Acme`` → ``Acme's``; a name ending in s takes only the apostrophe:
    ``Siemens'``."""
    text = str(name or "").strip()
    if not text:
        return ""
    if text[-1] in "sS":
        return f"{text}'"
    return f"{text}'s"


def noun(count: object, word: str) -> str:
    """Only the word of :func:`plural`, in the right number: ``noun(2, "column")``
    → ``columns`` (for "Unknown columns: a, b")."""
    return plural(count, word).split(" ", 1)[1]
