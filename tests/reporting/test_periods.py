"""Report periods on the tenant's fiscal calendar (reporting.periods), and the
tenant setting they follow (Tenant.fiscal_year_start)."""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from prm.tenancy.declarations import Period
from prm.tenancy.models import Tenant
from prm.tenancy.roles import Role
from reporting import periods
from reporting.periods import PeriodError, bucket_label, buckets, label, resolve, span
from tests import factories

TODAY = date(2026, 12, 6)


def program(start_month: int = 1, zone: str = "UTC") -> Tenant:
    """A tenant as the functions read it (no database needed)."""
    return Tenant(slug="acme", name="Acme", fiscal_year_start=start_month, timezone=zone)


def days(start: str, end: str) -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end))


# --- The fiscal calendar ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_month", "day", "name"),
    [
        (1, "2026-01-01", 2026),
        (1, "2026-12-31", 2026),
        # Named after the calendar year in which the fiscal year ends.
        (2, "2026-01-31", 2026),
        (2, "2026-02-01", 2027),
        (2, "2027-01-31", 2027),
        (10, "2026-09-30", 2026),
        (10, "2026-10-01", 2027),
        (12, "2027-12-01", 2028),
        (12, "2028-11-30", 2028),
    ],
)
def test_a_fiscal_year_is_named_after_the_year_it_ends_in(start_month, day, name):
    tenant = program(start_month)
    assert periods.fiscal_year_of(date.fromisoformat(day), tenant) == name
    year = periods.fiscal_year(name, tenant)
    assert year.start <= date.fromisoformat(day) <= year.end
    assert (year.end - year.start).days + 1 in (365, 366)


def test_quarters_start_at_the_fiscal_year_start():
    february = program(2)
    assert periods.fiscal_quarter(2027, 1, february) == days("2026-02-01", "2026-04-30")
    assert periods.fiscal_quarter(2027, 4, february) == days("2026-11-01", "2027-01-31")
    october = program(10)
    assert periods.fiscal_quarter(2027, 1, october) == days("2026-10-01", "2026-12-31")
    assert periods.fiscal_quarter(2027, 4, october) == days("2027-07-01", "2027-09-30")
    assert periods.fiscal_quarter_of(date(2027, 1, 15), october) == (2027, 2)
    with pytest.raises(ValueError, match="quarters 1 to 4"):
        periods.fiscal_quarter(2027, 5, october)


# --- Presets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_month", "preset", "expected", "name"),
    [
        # A calendar fiscal year, on 6 Dec 2026.
        (1, "this_quarter", ("2026-10-01", "2026-12-06"), "Q4 FY2026 to date"),
        (1, "last_quarter", ("2026-07-01", "2026-09-30"), "Q3 FY2026"),
        (1, "this_year", ("2026-01-01", "2026-12-06"), "FY2026 to date"),
        (1, "last_year", ("2025-01-01", "2025-12-31"), "FY2025"),
        (1, "last_12_months", ("2025-12-01", "2026-11-30"), "1 Dec 2025 \u2013 30 Nov 2026"),
        # Starting in February: Q4 FY2027 is Nov 2026 - Jan 2027.
        (2, "this_quarter", ("2026-11-01", "2026-12-06"), "Q4 FY2027 to date"),
        (2, "last_quarter", ("2026-08-01", "2026-10-31"), "Q3 FY2027"),
        (2, "this_year", ("2026-02-01", "2026-12-06"), "FY2027 to date"),
        (2, "last_year", ("2025-02-01", "2026-01-31"), "FY2026"),
        (2, "last_12_months", ("2025-12-01", "2026-11-30"), "1 Dec 2025 \u2013 30 Nov 2026"),
        # Starting in October: the year and its first quarter began together.
        (10, "this_quarter", ("2026-10-01", "2026-12-06"), "Q1 FY2027 to date"),
        (10, "last_quarter", ("2026-07-01", "2026-09-30"), "Q4 FY2026"),
        (10, "this_year", ("2026-10-01", "2026-12-06"), "FY2027 to date"),
        (10, "last_year", ("2025-10-01", "2026-09-30"), "FY2026"),
    ],
)
def test_presets_on_the_fiscal_calendar(start_month, preset, expected, name):
    tenant = program(start_month)
    period = resolve(tenant, preset, today=TODAY)
    assert period == days(*expected)
    assert label(period, tenant, today=TODAY, preset=preset) == name


def test_presets_across_the_year_end():
    tenant = program(1)
    new_year = date(2027, 1, 1)
    assert resolve(tenant, "this_quarter", today=new_year) == days("2027-01-01", "2027-01-01")
    assert resolve(tenant, "last_quarter", today=new_year) == days("2026-10-01", "2026-12-31")
    assert resolve(tenant, "this_year", today=new_year) == days("2027-01-01", "2027-01-01")
    assert resolve(tenant, "last_year", today=new_year) == days("2026-01-01", "2026-12-31")
    assert resolve(tenant, "last_12_months", today=new_year) == days("2026-01-01", "2026-12-31")
    # On the last day of a fiscal quarter, "this quarter" is all of it.
    february = program(2)
    last_day = date(2027, 1, 31)
    whole = resolve(february, "this_quarter", today=last_day)
    assert whole == days("2026-11-01", "2027-01-31")
    assert label(whole, february, today=last_day) == "Q4 FY2027"
    assert label(resolve(february, "this_year", today=last_day), february) == "FY2027"


def test_leap_years():
    # December start: Q1 FY2028 runs over the leap day.
    december = program(12)
    assert resolve(december, "last_quarter", today=date(2028, 3, 1)) == days(
        "2027-12-01", "2028-02-29"
    )
    assert resolve(december, "last_year", today=date(2028, 11, 15)) == days(
        "2026-12-01", "2027-11-30"
    )
    year = periods.fiscal_year(2028, december)
    assert (year.end - year.start).days + 1 == 366
    # Twelve whole months ending with February of a leap year: 366 days.
    trailing = resolve(program(1), "last_12_months", today=date(2024, 3, 15))
    assert trailing == days("2023-03-01", "2024-02-29")
    assert len(buckets(trailing)) == 12
    # A month from the 31st lands on the month's last day.
    assert periods.add_months_to_day(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert periods.add_months_to_day(date(2025, 1, 31), 1) == date(2025, 2, 28)


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown period 'next_year'"):
        resolve(program(), "next_year", today=TODAY)


# --- Custom periods -----------------------------------------------------------------------


def test_custom_period_keeps_the_days_asked_for():
    tenant = program(1)
    period = resolve(tenant, "custom", today=TODAY, start=date(2026, 11, 1), end=date(2026, 11, 20))
    assert period == days("2026-11-01", "2026-11-20")
    assert label(period, tenant, today=TODAY) == "1 \u2013 20 Nov 2026"
    single = resolve(tenant, "custom", today=TODAY, start=TODAY, end=TODAY)
    assert label(single, tenant) == "6 Dec 2026"
    # A custom period that is exactly a fiscal quarter is named as one.
    quarter = resolve(tenant, "custom", today=TODAY, start=date(2026, 7, 1), end=date(2026, 9, 30))
    assert label(quarter, tenant) == "Q3 FY2026"


def test_custom_period_ending_after_today_is_cut_to_today():
    period = resolve(
        program(), "custom", today=TODAY, start=date(2026, 10, 1), end=date(2026, 12, 31)
    )
    assert period == days("2026-10-01", "2026-12-06")


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (None, "2026-12-01", "from", "Choose the first day of the period."),
        ("2026-12-01", None, "to", "Choose the last day of the period."),
        (
            "2026-12-01",
            "2026-11-30",
            "to",
            "The period must end on or after it starts (1 Dec 2026).",
        ),
        (
            "2026-12-07",
            "2026-12-31",
            "from",
            "The period cannot start after today (6 Dec 2026): there are no figures yet.",
        ),
        ("1999-12-31", "2000-06-30", "from", "Choose a first day on or after 1 Jan 2000."),
        (
            "2023-12-06",
            "2026-12-06",
            "from",
            "A period can span at most 3 years: choose a first day on or after 7 Dec 2023.",
        ),
    ],
)
def test_custom_period_errors(start, end, field, message):
    with pytest.raises(PeriodError) as caught:
        resolve(
            program(),
            "custom",
            today=TODAY,
            start=date.fromisoformat(start) if start else None,
            end=date.fromisoformat(end) if end else None,
        )
    assert caught.value.field == field
    assert str(caught.value) == message


def test_custom_period_of_exactly_three_years():
    period = resolve(
        program(), "custom", today=TODAY, start=date(2023, 12, 7), end=date(2026, 12, 6)
    )
    assert period == days("2023-12-07", "2026-12-06")
    # Its previous period stays in the calendar even from the earliest day.
    earliest = resolve(
        program(), "custom", today=TODAY, start=date(2000, 1, 1), end=date(2002, 12, 31)
    )
    assert earliest.previous() == days("1996-12-31", "1999-12-31")


# --- Today is the tenant's date -----------------------------------------------------------


def test_today_is_the_tenants_local_date():
    instant = datetime(2026, 12, 31, 12, 30, tzinfo=UTC)  # 1:30 on 1 Jan 2027 in Auckland
    auckland = program(1, "Pacific/Auckland")
    london = program(1, "Europe/London")
    with time_machine.travel(instant, tick=False):
        assert resolve(auckland, "this_quarter") == days("2027-01-01", "2027-01-01")
        assert resolve(auckland, "last_year") == days("2026-01-01", "2026-12-31")
        assert label(resolve(auckland, "this_year"), auckland) == "1 Jan 2027"
        assert resolve(london, "this_quarter") == days("2026-10-01", "2026-12-31")
        assert label(resolve(london, "this_quarter"), london) == "Q4 FY2026"
        assert resolve(london, "last_year") == days("2025-01-01", "2025-12-31")


# --- Buckets ------------------------------------------------------------------------------


def assert_cover(period: Period, steps: list[Period]) -> None:
    assert steps[0].start == period.start and steps[-1].end == period.end
    for before, after in pairwise(steps):
        assert after.start == before.end + timedelta(days=1)


def test_weekly_buckets_are_iso_weeks_cut_to_the_period():
    period = days("2026-10-01", "2026-12-06")  # Thursday to Sunday
    steps = buckets(period)
    assert_cover(period, steps)
    assert steps[0] == days("2026-10-01", "2026-10-04")
    assert steps[1] == days("2026-10-05", "2026-10-11")
    assert steps[-1] == days("2026-11-30", "2026-12-06")
    assert all(step.start.weekday() == 0 for step in steps[1:])
    assert all(step.end.weekday() == 6 for step in steps)
    assert len(steps) == 10
    assert bucket_label(steps[0], period) == "1 \u2013 4 Oct 2026"
    assert bucket_label(steps[0], period, short=True) == "1 Oct"
    assert bucket_label(steps[1], period) == "5 \u2013 11 Oct 2026"


def test_weeks_across_the_year_end_and_a_cut_last_week():
    period = days("2026-12-16", "2027-01-06")  # Wednesday to Wednesday
    steps = buckets(period)
    assert_cover(period, steps)
    assert steps == [
        days("2026-12-16", "2026-12-20"),
        days("2026-12-21", "2026-12-27"),
        days("2026-12-28", "2027-01-03"),
        days("2027-01-04", "2027-01-06"),
    ]
    assert bucket_label(steps[2], period) == "28 Dec 2026 \u2013 3 Jan 2027"


def test_92_days_are_weeks_and_93_are_months():
    quarter = days("2026-10-01", "2026-12-31")  # 92 days
    assert periods.is_weekly(quarter)
    longer = days("2026-09-30", "2026-12-31")  # 93 days
    steps = buckets(longer)
    assert steps == [
        days("2026-09-30", "2026-09-30"),
        days("2026-10-01", "2026-10-31"),
        days("2026-11-01", "2026-11-30"),
        days("2026-12-01", "2026-12-31"),
    ]
    assert bucket_label(steps[0], longer) == "30 Sep 2026"
    assert bucket_label(steps[0], longer, short=True) == "Sep 2026"
    assert bucket_label(steps[1], longer) == "Oct 2026"


def test_monthly_buckets_cut_to_the_period():
    period = days("2026-01-15", "2026-06-10")
    steps = buckets(period)
    assert_cover(period, steps)
    assert [bucket_label(step, period) for step in steps] == [
        "15 \u2013 31 Jan 2026",
        "Feb 2026",
        "Mar 2026",
        "Apr 2026",
        "May 2026",
        "1 \u2013 10 Jun 2026",
    ]
    leap = buckets(days("2024-01-01", "2024-12-31"))
    assert leap[1] == days("2024-02-01", "2024-02-29")
    assert len(leap) == 12


def test_spans():
    assert span(days("2026-10-01", "2026-12-31")) == "1 Oct \u2013 31 Dec 2026"
    assert span(days("2025-12-29", "2026-01-04")) == "29 Dec 2025 \u2013 4 Jan 2026"
    assert span(days("2026-12-01", "2026-12-06")) == "1 \u2013 6 Dec 2026"


# --- The tenant setting -------------------------------------------------------------------


@pytest.mark.django_db
def test_fiscal_year_start_is_a_month(no_scope):
    tenant = factories.make_tenant("initech")
    assert tenant.fiscal_year_start == 1
    tenant.fiscal_year_start = 13
    with pytest.raises(ValidationError) as caught:
        tenant.full_clean()
    assert "fiscal_year_start" in caught.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(fiscal_year_start=0)


@pytest.mark.django_db
def test_ops_set_the_fiscal_year_start_in_the_program_settings(acme):
    client = acme.client(Role.OPS_ADMIN)
    url = f"/admin/tenancy/tenantsettings/{acme.tenant.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="fiscal_year_start"' in page
    assert "named after the calendar year it ends in" in page
    form = {"name": "Acme Corp", "timezone": "UTC", "base_currency": "USD", "country": "US"}
    refused = client.post(url, {**form, "fiscal_year_start": "13"})
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert client.post(url, {**form, "fiscal_year_start": "10"}).status_code == 302
    acme.tenant.refresh_from_db()
    assert acme.tenant.fiscal_year_start == 10


@pytest.mark.django_db
def test_the_platform_admin_sets_it_for_a_tenant(acme):
    root = factories.make_user("root@platform.test", is_superuser=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(root, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    page = client.get(f"/admin/tenancy/tenant/{acme.tenant.pk}/change/").content.decode()
    assert 'name="fiscal_year_start"' in page
    listed = client.get("/admin/tenancy/tenant/")
    assert listed.status_code == 200
    assert "Fiscal year starts in" in listed.content.decode()
