from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prm.tenancy.businesstime import BusinessCalendar

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def ny(*args):
    return datetime(*args, tzinfo=NY)


US = BusinessCalendar.build(timezone="America/New_York", country="US")


def test_within_the_same_day():
    assert US.add(ny(2026, 11, 18, 10), timedelta(hours=3)) == ny(2026, 11, 18, 13)


def test_friday_afternoon_rolls_over_the_weekend():
    # Fri 16:00 + 2 business days (16 h): 1 h Friday, 8 h Monday, 7 h Tuesday.
    assert US.add_days(ny(2026, 11, 13, 16), 2) == ny(2026, 11, 17, 16)


def test_before_opening_starts_at_opening_and_after_closing_starts_next_day():
    assert US.add(ny(2026, 11, 18, 6), timedelta(hours=1)) == ny(2026, 11, 18, 10)
    assert US.add(ny(2026, 11, 18, 19), timedelta(hours=1)) == ny(2026, 11, 19, 10)


def test_exactly_the_end_of_the_day_stays_there():
    assert US.add(ny(2026, 11, 18, 9), timedelta(hours=8)) == ny(2026, 11, 18, 17)


def test_public_holidays_of_the_tenants_country_are_skipped():
    # Thanksgiving 2026 is Thursday 26 November.
    assert US.add(ny(2026, 11, 25, 16), timedelta(hours=2)) == ny(2026, 11, 27, 10)
    # The same calendar without a country works through Thanksgiving.
    plain = BusinessCalendar.build(timezone="America/New_York")
    assert plain.add(ny(2026, 11, 25, 16), timedelta(hours=2)) == ny(2026, 11, 26, 10)
    # Germany's Tag der Deutschen Einheit (Sat 3 Oct 2026) does not move Friday.
    de = BusinessCalendar.build(timezone="Europe/Berlin", country="DE")
    assert de.is_working_day(date(2026, 10, 2))
    assert not de.is_working_day(date(2026, 12, 25))


def test_custom_closure_days_are_skipped():
    closed = BusinessCalendar.build(
        timezone="America/New_York", country="US", closures=[date(2026, 11, 19)]
    )
    assert closed.add(ny(2026, 11, 18, 16), timedelta(hours=2)) == ny(2026, 11, 20, 10)


def test_across_the_spring_dst_change():
    # Clocks go forward on Sunday 8 March 2026 in New York: Friday 16:00 EST
    # (21:00 UTC) + 16 business hours is Tuesday 16:00 EDT (20:00 UTC).
    due = US.add_days(ny(2026, 3, 6, 16), 2)
    assert due == datetime(2026, 3, 10, 20, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_across_the_autumn_dst_change_in_berlin():
    de = BusinessCalendar.build(timezone="Europe/Berlin", country="DE")
    # Clocks go back on Sunday 25 October 2026.
    due = de.add_days(datetime(2026, 10, 23, 12, tzinfo=BERLIN), 1)
    assert due == datetime(2026, 10, 26, 12, tzinfo=BERLIN)
    assert due == datetime(2026, 10, 26, 11, tzinfo=UTC)


def test_between_counts_only_working_hours():
    assert US.between(ny(2026, 11, 13, 16), ny(2026, 11, 17, 16)) == timedelta(hours=16)
    assert US.between(ny(2026, 11, 14, 10), ny(2026, 11, 15, 18)) == timedelta(0)
    assert US.between(ny(2026, 11, 17, 16), ny(2026, 11, 13, 16)) == timedelta(0)


def test_custom_working_week_and_hours():
    # A Sunday-to-Thursday week, 08:00-16:00 in Dubai.
    gulf = BusinessCalendar.build(
        timezone="Asia/Dubai", workdays=[6, 0, 1, 2, 3], day_start=time(8), day_end=time(16)
    )
    thursday_3pm = datetime(2026, 11, 19, 15, tzinfo=ZoneInfo("Asia/Dubai"))
    assert gulf.add(thursday_3pm, timedelta(hours=2)) == datetime(
        2026, 11, 22, 9, tzinfo=ZoneInfo("Asia/Dubai")
    )


def test_bad_calendars_and_durations_are_refused():
    with pytest.raises(ValueError, match="at least one working weekday"):
        BusinessCalendar.build(timezone="UTC", workdays=[])
    with pytest.raises(ValueError, match="end after it starts"):
        BusinessCalendar.build(timezone="UTC", day_start=time(17), day_end=time(9))
    with pytest.raises(ValueError, match="forward"):
        US.add(ny(2026, 11, 18, 10), timedelta(hours=-1))


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=0, max_value=60 * 8 * 15),
)
def test_between_undoes_add(start, minutes):
    """Whatever the start (weekend, night, holiday, DST day), the business
    time from start to start + d is d."""
    duration = timedelta(minutes=minutes)
    assert US.between(start, US.add(start, duration)) == duration
