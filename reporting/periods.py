"""The periods the reports are run for, on the tenant's fiscal calendar.

A tenant's fiscal year starts on the first day of ``Tenant.fiscal_year_start``
(a month, January by default) and is named after the calendar year in which
it ends: with a February start, 1 Feb 2026 - 31 Jan 2027 is "FY2027"; with a
January start the fiscal year is the calendar year ("FY2026"). Its quarters
are the three-month blocks from that start: Q1 FY2027 is Feb - Apr 2026.

The presets (``PRESETS``), on a tenant's "today" (its local date, never the
server's), e.g. 6 Dec 2026 with a January start:

- ``this_quarter``: the current fiscal quarter up to and including today
  (1 Oct - 6 Dec 2026). It never reaches into days that have no figures yet,
  so it compares fairly with ``Period.previous()``, the same number of days
  just before it.
- ``last_quarter``: the whole fiscal quarter before (1 Jul - 30 Sep 2026).
- ``this_year``: the current fiscal year up to and including today
  (1 Jan - 6 Dec 2026).
- ``last_year``: the whole fiscal year before (1 Jan - 31 Dec 2025).
- ``last_12_months``: the twelve whole calendar months before the current
  one (1 Dec 2025 - 30 Nov 2026), what finance calls the trailing twelve
  months and Salesforce ``LAST_N_MONTHS:12``: every month of the trend is
  complete and the figure compares year on year. The current month shows in
  ``this_quarter`` and ``this_year``.
- ``custom``: the days ``start`` to ``end`` chosen by the reader, both
  included. A custom period may span at most three years (36 months), may not
  start after today or before ``EARLIEST``; an end after today is cut to today
  (a bookmarked "1 Oct - 31 Dec" keeps working through the quarter and then
  shows all of it).

``buckets`` cuts a period into the steps of its trend charts: ISO weeks
(Monday - Sunday) for periods of up to 92 days (a quarter), calendar months
for longer ones, the first and last cut to the period. ``label`` names a
period for people ("Q3 FY2026", "FY2027 to date", "1 Oct - 31 Dec 2026").
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from prm.format import MONTHS, day
from prm.tenancy.declarations import Period

if TYPE_CHECKING:
    from prm.tenancy.models import Tenant

PRESETS: dict[str, str] = {
    "this_quarter": "This quarter",
    "last_quarter": "Last quarter",
    "this_year": "This fiscal year",
    "last_year": "Last fiscal year",
    "last_12_months": "Last 12 months",
    "custom": "Custom dates",
}
DEFAULT_PRESET = "this_quarter"
CUSTOM = "custom"

# A custom period spans at most this many months (three years).
MAX_CUSTOM_MONTHS = 36
# No figures exist before this day; it also keeps ``Period.previous()`` of
# the longest custom period inside the calendar.
EARLIEST = date(2000, 1, 1)
# Periods up to this many days are charted by week, longer ones by month.
WEEKLY_UP_TO_DAYS = 92


class PeriodError(ValueError):
    """A custom period that cannot be shown; ``field`` names the filter
    form's field it belongs to ("from" or "to")."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


# --- The fiscal calendar ----------------------------------------------------------------


def add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` after ``first``'s month."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(value: date) -> date:
    """The last day of ``value``'s month."""
    return add_months(value, 1) - timedelta(days=1)


def _start_month(tenant: Tenant) -> int:
    return int(tenant.fiscal_year_start or 1)


def fiscal_year_of(value: date, tenant: Tenant) -> int:
    """The name (a year) of the fiscal year holding ``value``: the calendar
    year in which that fiscal year ends."""
    start = _start_month(tenant)
    begins_in = value.year if value.month >= start else value.year - 1
    return begins_in if start == 1 else begins_in + 1


def fiscal_year(name: int, tenant: Tenant) -> Period:
    """The days of fiscal year ``name`` (``fiscal_year(2027, t)``: FY2027)."""
    start = _start_month(tenant)
    first = date(name if start == 1 else name - 1, start, 1)
    return Period(first, add_months(first, 12) - timedelta(days=1))


def fiscal_quarter_of(value: date, tenant: Tenant) -> tuple[int, int]:
    """(fiscal year name, quarter 1-4) of the quarter holding ``value``."""
    months_in = (value.month - _start_month(tenant)) % 12
    return fiscal_year_of(value, tenant), months_in // 3 + 1


def fiscal_quarter(name: int, quarter: int, tenant: Tenant) -> Period:
    """The days of quarter ``quarter`` (1-4) of fiscal year ``name``."""
    if not 1 <= quarter <= 4:
        raise ValueError(f"A fiscal year has quarters 1 to 4, not {quarter}.")
    first = add_months(fiscal_year(name, tenant).start, 3 * (quarter - 1))
    return Period(first, add_months(first, 3) - timedelta(days=1))


# --- Presets ----------------------------------------------------------------------------


def resolve(
    tenant: Tenant,
    preset: str,
    *,
    today: date | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Period:
    """The days ``preset`` covers on ``today`` (default: the tenant's local
    date now). ``start``/``end`` are read for ``custom`` only. Raises
    ``PeriodError`` (a ``ValueError``) for a custom period that cannot be
    shown, with a sentence for the reader, and ``ValueError`` for an unknown
    preset."""
    if today is None:
        today = tenant.local_today()
    if preset == "this_quarter":
        return Period(fiscal_quarter(*fiscal_quarter_of(today, tenant), tenant).start, today)
    if preset == "last_quarter":
        current = fiscal_quarter(*fiscal_quarter_of(today, tenant), tenant)
        before = current.start - timedelta(days=1)
        return fiscal_quarter(*fiscal_quarter_of(before, tenant), tenant)
    if preset == "this_year":
        return Period(fiscal_year(fiscal_year_of(today, tenant), tenant).start, today)
    if preset == "last_year":
        return fiscal_year(fiscal_year_of(today, tenant) - 1, tenant)
    if preset == "last_12_months":
        this_month = today.replace(day=1)
        return Period(add_months(this_month, -12), this_month - timedelta(days=1))
    if preset == CUSTOM:
        return custom(start, end, today=today)
    raise ValueError(f"Unknown period {preset!r}: use one of {', '.join(PRESETS)}.")


def custom(start: date | None, end: date | None, *, today: date) -> Period:
    """A reader's own period (see the module's docstring for the rules)."""
    if start is None:
        raise PeriodError("Choose the first day of the period.", "from")
    if end is None:
        raise PeriodError("Choose the last day of the period.", "to")
    if start < EARLIEST:
        raise PeriodError(f"Choose a first day on or after {day(EARLIEST)}.", "from")
    if start > today:
        raise PeriodError(
            f"The period cannot start after today ({day(today)}): there are no figures yet.",
            "from",
        )
    if end < start:
        raise PeriodError(f"The period must end on or after it starts ({day(start)}).", "to")
    if end >= add_months_to_day(start, MAX_CUSTOM_MONTHS):
        earliest = add_months_to_day(end + timedelta(days=1), -MAX_CUSTOM_MONTHS)
        raise PeriodError(
            f"A period can span at most {MAX_CUSTOM_MONTHS // 12} years: "
            f"choose a first day on or after {day(earliest)}.",
            "from",
        )
    return Period(start, min(end, today))


def add_months_to_day(value: date, months: int) -> date:
    """The same day of the month ``months`` later (or earlier), the month's
    last day where it is shorter (31 Jan + 1 month: 28 or 29 Feb)."""
    first = add_months(value.replace(day=1), months)
    return first.replace(day=min(value.day, month_end(first).day))


# --- Buckets ----------------------------------------------------------------------------


def is_weekly(period: Period) -> bool:
    """Whether ``buckets`` cuts ``period`` into weeks (else months)."""
    return (period.end - period.start).days + 1 <= WEEKLY_UP_TO_DAYS


def buckets(period: Period) -> list[Period]:
    """The steps of a trend over ``period``: ISO weeks (Monday - Sunday) for
    periods of up to 92 days, calendar months otherwise; the first and the
    last cut to the period, so the buckets cover it exactly, in order."""
    result: list[Period] = []
    if is_weekly(period):
        first = period.start - timedelta(days=period.start.weekday())
        while first <= period.end:
            last = first + timedelta(days=6)
            result.append(Period(max(first, period.start), min(last, period.end)))
            first = last + timedelta(days=1)
        return result
    first = period.start.replace(day=1)
    while first <= period.end:
        result.append(Period(max(first, period.start), min(month_end(first), period.end)))
        first = add_months(first, 1)
    return result


# --- Labels -----------------------------------------------------------------------------


def _day_month(value: date) -> str:
    return f"{value.day} {MONTHS[value.month - 1]}"


def span(period: Period) -> str:
    """The days of ``period`` for people: "6 Dec 2026", "1 - 6 Dec 2026",
    "1 Oct - 31 Dec 2026", "29 Dec 2025 - 4 Jan 2026"."""
    start, end = period.start, period.end
    if start == end:
        return day(start)
    if start.year != end.year:
        return f"{day(start)} \N{EN DASH} {day(end)}"
    if start.month != end.month:
        return f"{_day_month(start)} \N{EN DASH} {day(end)}"
    return f"{start.day} \N{EN DASH} {day(end)}"


def label(
    period: Period, tenant: Tenant, *, today: date | None = None, preset: str | None = None
) -> str:
    """A period's name on the tenant's fiscal calendar: "FY2026" or
    "Q3 FY2026" for a whole fiscal year or quarter, "Q4 FY2026 to date" or
    "FY2027 to date" for one that runs from its start to ``today`` (when
    given; early in a year, where both are true, the quarter unless
    ``preset`` is ``this_year``), otherwise its days ("1 Oct - 31 Dec 2026",
    see ``span``)."""
    name = fiscal_year_of(period.start, tenant)
    _, number = fiscal_quarter_of(period.start, tenant)
    units = [
        (fiscal_quarter(name, number, tenant), f"Q{number} FY{name}"),
        (fiscal_year(name, tenant), f"FY{name}"),
    ]
    if preset == "this_year":
        units.reverse()
    for whole, text in units:
        if period == whole:
            return text
    for whole, text in units:
        if period.start == whole.start and period.end == today and today < whole.end:
            return f"{text} to date"
    return span(period)


def bucket_label(bucket: Period, period: Period, *, short: bool = False) -> str:
    """A trend step's name, ``period`` being the whole it was cut from: a
    whole month is "Oct 2026"; a week or a cut month is its days ("5 - 11 Oct
    2026", see ``span``). ``short`` (chart axes): a week by its first day
    ("5 Oct"), a month by its name ("Oct 2026") even where cut."""
    if is_weekly(period):
        return _day_month(bucket.start) if short else span(bucket)
    whole_month = bucket.start.day == 1 and bucket.end == month_end(bucket.start)
    if short or whole_month:
        return f"{MONTHS[bucket.start.month - 1]} {bucket.start.year}"
    return span(bucket)
