"""Any table of a dashboard as a CSV or XLSX download.

A dashboard builds each of its tables as a ``Table`` (the rows it shows,
already limited to the tenant and to what the person may see) and answers
``?export=<table key>&format=csv|xlsx`` with ``requested(request, tables)``.
An export serialises only the ``Table`` it is given, so it can show nothing
the page does not: tenant scoping is the page's, by construction.

- CSV follows the product's CSV conventions (``prm.csvio``): UTF-8 without a
  byte-order mark, one header line, every cell formula-safe. Money is the
  plain amount (``1234.50``) with the currency code in its header, a
  percentage the number of percent (``12.5``), dates ``YYYY-MM-DD``.
- XLSX is written by pandas with openpyxl: a title row and the period above
  the header, numbers as numbers (money with the currency's decimals and its
  code in the header, percentages as fractions shown with ``%``), dates as
  dates, column widths set, the header frozen and filterable, a totals row in
  bold. Text is always text: a cell starting with ``=`` is stored as a string,
  never as a formula.

The file is named ``<tenant slug>-<table key>-<period>.<ext>``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from prm import csvio
from prm import format as formatting
from prm.tenancy.declarations import Period, Unit
from prm.tenancy.outage import bad_request
from prm.tenancy.params import quoted
from prm.tenancy.requests import tenant_of

if TYPE_CHECKING:
    from prm.tenancy.models import Tenant

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The header's unit, after the label: "Revenue (USD)", "Win rate (%)".
UNIT_SUFFIX = {
    Unit.PERCENT: "%",
    Unit.HOURS: "business hours",
    Unit.DAYS: "days",
}
DATE_FORMAT = "d mmm yyyy"
DATETIME_FORMAT = "d mmm yyyy hh:mm"
COUNT_FORMAT = "#,##0"
ONE_DECIMAL_FORMAT = "#,##0.0"
PERCENT_FORMAT = "0.0%"
# Rows above the header in a sheet: the title, the period and note, a gap.
HEADER_ROW = 4
MIN_WIDTH, MAX_WIDTH = 8, 60


@dataclass(frozen=True)
class Column:
    """One column: the row dicts' ``key``, its heading, and its unit (None:
    text, or dates where the values are dates)."""

    key: str
    label: str
    unit: Unit | None = None


@dataclass(frozen=True)
class Table:
    """A table as a page shows it: ``rows`` are dicts keyed by the columns'
    keys, ``totals`` (optional) the same for a totals row. ``period`` names
    the file and heads the sheet; ``note`` says what the figures are."""

    key: str
    title: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    note: str = ""
    period: Period | None = field(default=None)


# --- Naming ---------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "table"


def filename_stem(table: Table) -> str:
    """``<table key>-<first day>-to-<last day>`` (the key alone without a period)."""
    stem = _slug(table.key)
    if table.period is not None:
        stem += f"-{table.period.start.isoformat()}-to-{table.period.end.isoformat()}"
    return stem


def filename(tenant: Tenant, stem: str, fmt: str) -> str:
    return f"{tenant.slug}-{_slug(stem)}.{fmt}"


def header(column: Column, currency: str) -> str:
    """A column's heading with its unit: ``Revenue (USD)``, ``Win rate (%)``."""
    if column.unit == Unit.MONEY:
        return f"{column.label} ({currency})"
    suffix = UNIT_SUFFIX.get(column.unit) if column.unit is not None else None
    return f"{column.label} ({suffix})" if suffix else column.label


def _totals_row(table: Table) -> dict[str, Any] | None:
    """The totals with "Total" in the first column, unless it holds a total."""
    if table.totals is None:
        return None
    row = dict(table.totals)
    first = table.columns[0].key if table.columns else None
    if first is not None and row.get(first) in (None, ""):
        row[first] = "Total"
    return row


# --- CSV ------------------------------------------------------------------------------


def _csv_cell(value: Any, tenant: Tenant) -> object:
    if isinstance(value, datetime):
        return tenant.local_now(value).strftime("%Y-%m-%d %H:%M") if value.tzinfo else value
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_rows(table: Table, tenant: Tenant) -> Iterable[list[object]]:
    rows = list(table.rows)
    totals = _totals_row(table)
    if totals is not None:
        rows.append(totals)
    for row in rows:
        yield [_csv_cell(row.get(column.key), tenant) for column in table.columns]


def csv_response(table: Table, tenant: Tenant, name: str) -> HttpResponse:
    headings = [header(column, tenant.base_currency) for column in table.columns]
    response = csvio.csv_response(name, csv_rows(table, tenant), headings)
    assert isinstance(response, HttpResponse)  # built in memory (stream=False)
    return response


# --- XLSX -----------------------------------------------------------------------------


def money_format(currency: str) -> str:
    """``#,##0.00`` with the currency's own minor digits (JPY none, KWD three)."""
    digits = formatting.minor_digits(currency)
    return "#,##0" + ("." + "0" * digits if digits else "")


def _number_format(column: Column, currency: str) -> str | None:
    return (
        {
            Unit.MONEY: money_format(currency),
            Unit.PERCENT: PERCENT_FORMAT,
            Unit.COUNT: COUNT_FORMAT,
            Unit.HOURS: ONE_DECIMAL_FORMAT,
            Unit.DAYS: ONE_DECIMAL_FORMAT,
        }.get(column.unit)
        if column.unit is not None
        else None
    )


def _xlsx_cell(value: Any, column: Column, tenant: Tenant) -> Any:
    """The value as the cell should hold it: numbers stay numbers (Decimal
    is written as its exact text), a percentage becomes its fraction, an
    aware datetime the tenant's wall-clock time (Excel has no zones)."""
    if value is None or value == "":
        return None
    if column.unit == Unit.PERCENT and isinstance(value, Decimal | int | float):
        return Decimal(value) / 100 if not isinstance(value, float) else value / 100
    if isinstance(value, datetime) and value.tzinfo is not None:
        return tenant.local_now(value).replace(tzinfo=None)
    return value


def sheet_name(title: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of ``[]:*?/\\``."""
    name = re.sub(r"[\[\]:*?/\\]", " ", title).strip() or "Table"
    return name[:31]


def xlsx_bytes(table: Table, tenant: Tenant) -> bytes:
    """The table as an XLSX workbook of one sheet."""
    # Imported here: pandas takes a while to import, and only exports need it.
    # (Neither ships type hints; pandas-stubs and types-openpyxl are not used.)
    import pandas as pd  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    currency = tenant.base_currency
    headings = [header(column, currency) for column in table.columns]
    body = list(table.rows)
    totals = _totals_row(table)
    if totals is not None:
        body.append(totals)
    frame = pd.DataFrame(
        [[_xlsx_cell(row.get(c.key), c, tenant) for c in table.columns] for row in body],
        columns=pd.Index(range(len(headings))),
        dtype=object,
    )
    frame.columns = pd.Index(headings)
    buffer = io.BytesIO()
    name = sheet_name(table.title)
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name=name, index=False, startrow=HEADER_ROW - 1)
        sheet = writer.sheets[name]
        sheet["A1"] = table.title
        sheet["A1"].font = Font(bold=True, size=14)
        sheet["A2"] = _subtitle(table, tenant)
        for cell in (sheet["A1"], sheet["A2"]):
            cell.data_type = "s"  # a title is text, whatever it starts with
        first_row = HEADER_ROW + 1
        last_row = HEADER_ROW + len(body)
        for index, column in enumerate(table.columns, start=1):
            fmt = _number_format(column, currency)
            width = len(headings[index - 1])
            for offset, source in enumerate(body):
                cell = sheet.cell(row=first_row + offset, column=index)
                if cell.value == "":
                    cell.value = None  # pandas writes a missing value as empty text
                if cell.data_type == "f":
                    cell.data_type = "s"  # text that looks like a formula stays text
                if isinstance(cell.value, datetime):
                    cell.number_format = DATETIME_FORMAT
                elif isinstance(cell.value, date):
                    cell.number_format = DATE_FORMAT
                elif fmt is not None and isinstance(cell.value, int | float | Decimal):
                    cell.number_format = fmt
                width = max(width, _shown_width(source.get(column.key), column, currency))
            letter = sheet.cell(row=HEADER_ROW, column=index).column_letter
            sheet.column_dimensions[letter].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
        if totals is not None:
            for index in range(1, len(table.columns) + 1):
                sheet.cell(row=last_row, column=index).font = Font(bold=True)
        sheet.freeze_panes = sheet.cell(row=first_row, column=1)
        if table.columns:
            data_end = last_row - (1 if totals is not None else 0)
            end_letter = sheet.cell(row=HEADER_ROW, column=len(table.columns)).column_letter
            sheet.auto_filter.ref = f"A{HEADER_ROW}:{end_letter}{max(data_end, HEADER_ROW)}"
    return buffer.getvalue()


def _subtitle(table: Table, tenant: Tenant) -> str:
    day = formatting.day
    parts = [tenant.name]
    if table.period is not None:
        parts.append(f"{day(table.period.start)} to {day(table.period.end)}")
    parts.append(f"made {tenant.local_now(timezone.now()):%Y-%m-%d %H:%M} ({tenant.timezone})")
    if table.note:
        parts.append(table.note)
    return " · ".join(parts)


def _shown_width(value: Any, column: Column, currency: str) -> int:
    """About how many characters the cell shows (for the column's width)."""
    fmt = formatting
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 17
    if isinstance(value, date):
        return 11
    if column.unit == Unit.MONEY:
        return len(fmt.money(value, currency)) - len(currency) - 1
    if column.unit == Unit.PERCENT:
        return len(fmt.percent(value))
    if isinstance(value, int | float | Decimal):
        return len(fmt.number(value))
    return max((len(line) for line in str(value).splitlines()), default=0)


def xlsx_response(table: Table, tenant: Tenant, name: str) -> HttpResponse:
    response = HttpResponse(xlsx_bytes(table, tenant), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- Answering a page's ?export= ------------------------------------------------------


def respond(table: Table, fmt: str, *, tenant: Tenant, filename_stem: str) -> HttpResponse:
    """``table`` as a download in ``fmt`` ("csv" or "xlsx"), named
    ``<tenant slug>-<filename_stem>.<fmt>``. BadRequest for another format."""
    if fmt not in FORMATS:
        raise BadRequest(
            f"The file was not made: {quoted(fmt)} is not an export format here "
            f"(choose {' or '.join(FORMATS)})."
        )
    name = filename(tenant, filename_stem, fmt)
    if fmt == "csv":
        return csv_response(table, tenant, name)
    return xlsx_response(table, tenant, name)


def requested(request: HttpRequest, tables: Mapping[str, Table]) -> HttpResponse | None:
    """The download ``?export=<key>&format=csv|xlsx`` asks for, of one of
    ``tables`` (key → table); None when the request asks for none (the page
    renders as usual). An unknown key or format answers the 400 page with a
    sentence saying what was wrong."""
    if "export" not in request.GET:
        return None
    key = request.GET.get("export", "")
    fmt = request.GET.get("format", "csv").lower()
    try:
        table = tables.get(key)
        if table is None:
            offered = ", ".join(sorted(tables)) or "none"
            raise BadRequest(
                f"The file was not made: this page has no table {quoted(key)} to export "
                f"(its tables: {offered})."
            )
        return respond(table, fmt, tenant=tenant_of(request), filename_stem=filename_stem(table))
    except BadRequest as error:
        return bad_request(request, error)
