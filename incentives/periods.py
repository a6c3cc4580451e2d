"""Calendar periods (statements, rebates, quotas, caps): month, quarter, year."""

from datetime import date, timedelta

from django.db import models


class Period(models.TextChoices):
    MONTH = "month", "Monthly"
    QUARTER = "quarter", "Quarterly"
    YEAR = "year", "Yearly"


_MONTHS: dict[str, int] = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}


def period_start(day: date, period: str) -> date:
    months = _MONTHS[period]
    month = (day.month - 1) // months * months + 1
    return date(day.year, month, 1)


def period_end(start: date, period: str) -> date:
    """The last day of the period that begins on ``start``."""
    return next_start(start, period) - timedelta(days=1)


def next_start(start: date, period: str) -> date:
    month = start.month - 1 + _MONTHS[period]
    return date(start.year + month // 12, month % 12 + 1, 1)


def bounds(day: date, period: str) -> tuple[date, date]:
    start = period_start(day, period)
    return start, period_end(start, period)


def label(start: date, period: str) -> str:
    if period == Period.MONTH:
        return start.strftime("%B %Y")
    if period == Period.QUARTER:
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return str(start.year)
