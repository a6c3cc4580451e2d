"""prm.format and its template filters: one way to show money, numbers and dates."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from incentives.money import format_money, minor_digits
from prm import format as fmt


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("120000"), "USD", "120,000.00 USD"),
        (Decimal("1234567.891"), "EUR", "1,234,567.89 EUR"),
        (Decimal("-1234.5"), "EUR", "-1,234.50 EUR"),
        (Decimal("1500"), "JPY", "1,500 JPY"),
        (Decimal("1234.5"), "KWD", "1,234.500 KWD"),
        (Decimal("0"), "USD", "0.00 USD"),
        (Decimal("-0.001"), "USD", "0.00 USD"),
        (Decimal("12.5"), "usd", "12.50 USD"),
        (7, "EUR", "7.00 EUR"),
    ],
)
def test_money(amount, currency, shown):
    assert fmt.money(amount, currency) == shown


def test_money_of_nothing_is_empty():
    assert fmt.money(None, "USD") == ""
    assert fmt.money("", "USD") == ""


def test_minor_digits_live_in_one_place_and_incentives_delegates():
    assert fmt.minor_digits("JPY") == 0 and fmt.minor_digits("KWD") == 3
    assert fmt.minor_digits("EUR") == 2
    assert minor_digits is fmt.minor_digits
    assert format_money(Decimal("120000"), "USD") == "120,000.00 USD"
    assert format_money(None, "USD") == ""


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [
        (12345, None, "12,345"),
        (Decimal("1234.50"), None, "1,234.5"),
        (Decimal("1234.5"), 2, "1,234.50"),
        (-9876543, None, "-9,876,543"),
        (Decimal("100"), None, "100"),
        (None, None, ""),
        ("not a number", None, ""),
    ],
)
def test_number(value, places, shown):
    assert fmt.number(value, places) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("87.5"), "87.5%"), (100, "100%"), (Decimal("12.34"), "12.3%"), (None, "\N{EN DASH}")],
)
def test_percent(value, shown):
    assert fmt.percent(value) == shown


def test_day_and_moment_in_the_active_time_zone_across_midnight():
    utc_evening = dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC)
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        assert fmt.day(utc_evening) == "4 Dec 2026"
        assert fmt.moment(utc_evening) == "4 Dec 2026, 00:30"
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        assert fmt.day(utc_evening) == "3 Dec 2026"
        assert fmt.moment(utc_evening) == "3 Dec 2026, 18:30"
    # an explicit zone wins over the active one (tasks that name the tenant's zone)
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        assert fmt.moment(utc_evening, zoneinfo.ZoneInfo("Asia/Tokyo")) == "4 Dec 2026, 08:30"


def test_day_of_a_date_and_of_nothing():
    assert fmt.day(dt.date(2026, 1, 9)) == "9 Jan 2026"
    assert fmt.day(None) == "" and fmt.moment(None) == ""
    assert fmt.moment(dt.date(2026, 12, 3)) == "3 Dec 2026"


@pytest.mark.parametrize(
    ("count", "word", "shown"),
    [
        (1, "row", "1 row"),
        (0, "row", "0 rows"),
        (2, "row", "2 rows"),
        (1000, "row", "1,000 rows"),
        (1, "entry,entries", "1 entry"),
        (3, "entry,entries", "3 entries"),
        (1204, "registration", "1,204 registrations"),
        ([1, 2], "line", "2 lines"),
    ],
)
def test_plural(count, word, shown):
    assert fmt.plural(count, word) == shown


def test_noun_is_the_word_alone():
    assert fmt.noun(1, "column") == "column"
    assert fmt.noun(2, "column") == "columns"


@pytest.mark.parametrize(
    ("name", "shown"),
    [("Acme", "Acme's"), ("Siemens", "Siemens'"), ("Chris", "Chris'"), ("", ""), (None, "")],
)
def test_possessive(name, shown):
    assert fmt.possessive(name) == shown


def test_template_filters():
    template = Template(
        "{% load prm %}{{ a|money:'JPY' }}|{{ n|number }}|{{ n|number:2 }}|{{ p|percent }}|"
        "{{ d|day }}|{{ t|moment }}|{{ c|plural:'entry,entries' }}|{{ who|possessive }}|"
        "{{ r|rate }}"
    )
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        out = template.render(
            Context(
                {
                    "a": Decimal("1234567"),
                    "n": 12345,
                    "p": Decimal("87.5"),
                    "d": dt.date(2026, 12, 3),
                    "t": dt.datetime(2026, 12, 3, 13, 5, tzinfo=dt.UTC),
                    "c": 1,
                    "who": "Siemens",
                    "r": Decimal("1.08370000"),
                }
            )
        )
    assert out == (
        "1,234,567 JPY|12,345|12,345.00|87.5%|3 Dec 2026|3 Dec 2026, 14:05|1 entry|"
        "Siemens&#x27;|1.0837"
    )
