"""Budget periods on the tenant's fiscal calendar. A fiscal year is named
after the calendar year it ends in (as the reports name it): with a fiscal
year starting in February, FY2027 runs from 1 February 2026 to 31 January
2027; its Q1 is February to April."""

from datetime import date, timedelta

from prm.tenancy.models import Tenant

MONTHS = {"quarter": 3, "half": 6, "year": 12}
COUNT = {"quarter": 4, "half": 2, "year": 1}


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def fiscal_year_start(tenant: Tenant, fiscal_year: int) -> date:
    start_month = tenant.fiscal_year_start or 1
    return date(fiscal_year - (1 if start_month > 1 else 0), start_month, 1)


def period_dates(tenant: Tenant, span: str, fiscal_year: int, number: int) -> tuple[date, date]:
    """First and last day of quarter/half ``number`` (1 for a year) of
    ``fiscal_year``."""
    if span not in MONTHS:
        raise ValueError(f"unknown budget span {span!r}")
    if not 1 <= number <= COUNT[span]:
        raise ValueError(f"a {span} is numbered 1 to {COUNT[span]}")
    months = MONTHS[span]
    start = _add_months(fiscal_year_start(tenant, fiscal_year), months * (number - 1))
    return start, _add_months(start, months) - timedelta(days=1)


def fiscal_year_of(tenant: Tenant, day: date) -> int:
    start_month = tenant.fiscal_year_start or 1
    return day.year + (1 if start_month > 1 and day.month >= start_month else 0)


def period_of(tenant: Tenant, span: str, day: date) -> tuple[int, int]:
    """(fiscal year, number) of the ``span`` containing ``day``."""
    year = fiscal_year_of(tenant, day)
    start = fiscal_year_start(tenant, year)
    months = (day.year - start.year) * 12 + day.month - start.month
    return year, months // MONTHS[span] + 1
