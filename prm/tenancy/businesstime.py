"""Business-time arithmetic in a tenant's calendar.

A business calendar has a time zone, working weekdays, daily working hours,
the public holidays of a country (the ``holidays`` package) and custom
closure days. Business time runs only inside working hours on working days.

Working hours are wall-clock hours in the calendar's time zone: a 09:00-17:00
day is eight business hours on the days clocks change too. Results are
returned in UTC.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

MAX_DAYS_SCANNED = 3 * 366


@lru_cache(maxsize=256)
def _public_holidays(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:  # a country the package does not know
        return frozenset()


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "UTC"
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday is 0
    day_start: time = time(9, 0)
    day_end: time = time(17, 0)
    country: str = ""
    closures: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.workdays:
            raise ValueError("A business calendar needs at least one working weekday.")
        if not self.day_start < self.day_end:
            raise ValueError("The working day must end after it starts.")

    @classmethod
    def build(
        cls,
        *,
        timezone: str,
        country: str = "",
        workdays: Iterable[int] = (0, 1, 2, 3, 4),
        day_start: time = time(9, 0),
        day_end: time = time(17, 0),
        closures: Iterable[date] = (),
    ) -> "BusinessCalendar":
        return cls(
            timezone=timezone,
            workdays=frozenset(workdays),
            day_start=day_start,
            day_end=day_end,
            country=country,
            closures=frozenset(closures),
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def hours_per_day(self) -> timedelta:
        return datetime.combine(date.min, self.day_end) - datetime.combine(date.min, self.day_start)

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() in self.workdays
            and day not in self.closures
            and not (self.country and day in _public_holidays(self.country, day.year))
        )

    def _window(self, day: date) -> tuple[datetime, datetime]:
        tz = self.tz
        return (
            datetime.combine(day, self.day_start, tzinfo=tz),
            datetime.combine(day, self.day_end, tzinfo=tz),
        )

    def _working_days_from(self, day: date) -> Iterator[date]:
        for offset in range(MAX_DAYS_SCANNED):
            current = day + timedelta(days=offset)
            if self.is_working_day(current):
                yield current
        raise ValueError(f"No working day within {MAX_DAYS_SCANNED} days of {day}.")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of business time after ``start``."""
        if duration < timedelta(0):
            raise ValueError("Business time can only be added forward.")
        local = start.astimezone(self.tz).replace(tzinfo=None)
        remaining = duration
        for day in self._working_days_from(local.date()):
            opens, closes = (w.replace(tzinfo=None) for w in self._window(day))
            begin = max(local, opens)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).replace(tzinfo=self.tz).astimezone(UTC)
                remaining -= available
        raise AssertionError("unreachable")  # _working_days_from raises first

    def add_days(self, start: datetime, days: int) -> datetime:
        """``days`` full business days after ``start``: the same as that many
        working days' worth of business hours."""
        return self.add(start, self.hours_per_day * days)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time elapsed from ``start`` to ``end`` (zero if end is
        not after start)."""
        if end <= start:
            return timedelta(0)
        local_start = start.astimezone(self.tz).replace(tzinfo=None)
        local_end = end.astimezone(self.tz).replace(tzinfo=None)
        total = timedelta(0)
        day = local_start.date()
        while day <= local_end.date():
            if self.is_working_day(day):
                opens, closes = (w.replace(tzinfo=None) for w in self._window(day))
                lo, hi = max(opens, local_start), min(closes, local_end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total
