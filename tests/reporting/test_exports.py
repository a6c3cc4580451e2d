"""Exports of a dashboard's tables (reporting.exports): the CSV follows the
product's CSV conventions, the XLSX holds real numbers and dates with their
formats, both guard against formulas, and a bad key or format is a 400 that
says what was wrong."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest
from django.test import RequestFactory

from prm.tenancy.declarations import Period, Unit
from prm.tenancy.models import Tenant
from reporting import exports
from reporting.exports import Column, Table

pytestmark = pytest.mark.django_db

Q4 = Period(date(2026, 10, 1), date(2026, 12, 31))


def partners_table(**overrides) -> Table:
    data = {
        "key": "top_partners",
        "title": "Top partners by revenue",
        "columns": [
            Column("name", "Partner"),
            Column("revenue", "Revenue", Unit.MONEY),
            Column("win_rate", "Win rate", Unit.PERCENT),
            Column("deals", "Deals won", Unit.COUNT),
            Column("turnaround", "Turnaround", Unit.HOURS),
            Column("last_win", "Last win"),
        ],
        "rows": [
            {
                "name": "Initech",
                "revenue": Decimal("1234567.89"),
                "win_rate": Decimal("62.5"),
                "deals": 12,
                "turnaround": Decimal("7.5"),
                "last_win": date(2026, 11, 30),
            },
            {
                "name": '=HYPERLINK("http://evil.test","click")',
                "revenue": Decimal("-50.10"),
                "win_rate": None,
                "deals": 0,
                "turnaround": None,
                "last_win": None,
            },
            {
                "name": "+SUM(A1:A2)",
                "revenue": Decimal("0.01"),
                "win_rate": Decimal("100"),
                "deals": 3,
                "turnaround": Decimal("0"),
                "last_win": date(2026, 10, 1),
            },
        ],
        "totals": {"revenue": Decimal("1234517.80"), "deals": 15},
        "note": "Won deals closed in the period, in the base currency.",
        "period": Q4,
    }
    data.update(overrides)
    return Table(**data)


def request_for(world, query: dict):
    request = RequestFactory().get("/reports/", query, HTTP_HOST=world.host)
    request.tenant = world.tenant
    return request


def read_csv(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


def read_xlsx(response):
    return openpyxl.load_workbook(io.BytesIO(response.content))


class TestCsv:
    def test_header_rows_and_totals_as_written(self, acme):
        response = exports.respond(
            partners_table(), "csv", tenant=acme.tenant, filename_stem="top_partners-q4"
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == 'attachment; filename="acme-top-partners-q4.csv"'
        assert not response.content.startswith(b"\xef\xbb\xbf")  # no byte-order mark
        rows = read_csv(response)
        assert rows[0] == [
            "Partner",
            "Revenue (USD)",
            "Win rate (%)",
            "Deals won",
            "Turnaround (business hours)",
            "Last win",
        ]
        assert rows[1] == ["Initech", "1234567.89", "62.5", "12", "7.5", "2026-11-30"]
        assert rows[2][1:] == ["-50.10", "", "0", "", ""]  # a negative amount stays a number
        assert rows[4] == ["Total", "1234517.80", "", "15", "", ""]
        assert len(rows) == 5

    def test_formulas_are_quoted(self, acme):
        rows = read_csv(
            exports.respond(partners_table(), "csv", tenant=acme.tenant, filename_stem="t")
        )
        assert rows[2][0] == '\'=HYPERLINK("http://evil.test","click")'
        assert rows[3][0] == "'+SUM(A1:A2)"

    def test_the_header_names_the_tenants_currency(self, acme):
        Tenant.objects.filter(pk=acme.tenant.pk).update(base_currency="EUR")
        acme.tenant.refresh_from_db()
        rows = read_csv(
            exports.respond(partners_table(), "csv", tenant=acme.tenant, filename_stem="t")
        )
        assert rows[0][1] == "Revenue (EUR)"

    def test_an_aware_moment_is_written_in_the_tenants_zone(self, acme):
        Tenant.objects.filter(pk=acme.tenant.pk).update(timezone="America/New_York")
        acme.tenant.refresh_from_db()
        table = Table(
            key="log",
            title="Log",
            columns=[Column("at", "When")],
            rows=[{"at": datetime(2026, 12, 1, 3, 30, tzinfo=UTC)}],
        )
        rows = read_csv(exports.respond(table, "csv", tenant=acme.tenant, filename_stem="log"))
        assert rows[1] == ["2026-11-30 22:30"]


class TestXlsx:
    @pytest.fixture
    def sheet(self, acme):
        response = exports.respond(
            partners_table(), "xlsx", tenant=acme.tenant, filename_stem="top_partners-q4"
        )
        assert response.status_code == 200
        assert response["Content-Type"] == exports.XLSX_TYPE
        assert response["Content-Disposition"] == 'attachment; filename="acme-top-partners-q4.xlsx"'
        book = read_xlsx(response)
        assert book.sheetnames == ["Top partners by revenue"]
        return book.active

    def test_title_and_period_above_the_header(self, sheet):
        assert sheet["A1"].value == "Top partners by revenue"
        assert sheet["A1"].font.bold
        subtitle = sheet["A2"].value
        assert subtitle.startswith("Acme Corp · 1 Oct 2026 to 31 Dec 2026 · made ")
        assert subtitle.endswith("Won deals closed in the period, in the base currency.")
        assert [c.value for c in sheet[4]] == [
            "Partner",
            "Revenue (USD)",
            "Win rate (%)",
            "Deals won",
            "Turnaround (business hours)",
            "Last win",
        ]
        assert sheet.freeze_panes == "A5"
        assert sheet.auto_filter.ref == "A4:F7"

    def test_numbers_are_numbers_with_their_formats(self, sheet):
        _name, revenue, win_rate, deals, turnaround, last_win = sheet[5]
        assert revenue.data_type == "n"
        assert Decimal(str(revenue.value)) == Decimal("1234567.89")
        assert revenue.number_format == "#,##0.00"
        assert Decimal(str(win_rate.value)) == Decimal("0.625")  # 62.5 %
        assert win_rate.number_format == "0.0%"
        assert deals.value == 12 and deals.number_format == "#,##0"
        assert Decimal(str(turnaround.value)) == Decimal("7.5")
        assert turnaround.number_format == "#,##0.0"
        assert last_win.value == datetime(2026, 11, 30)  # a date cell (Excel has no pure dates)
        assert last_win.is_date and last_win.number_format == "d mmm yyyy"
        assert Decimal(str(sheet["B6"].value)) == Decimal("-50.10")
        assert sheet["C6"].value is None and sheet["F6"].value is None
        assert sheet["C7"].value == 1  # 100 %

    def test_totals_row_in_bold(self, sheet):
        total = sheet[8]
        assert [c.value for c in total][:4] == ["Total", pytest.approx(1234517.8), None, 15]
        assert Decimal(str(total[1].value)) == Decimal("1234517.80")
        assert all(c.font.bold for c in total)
        assert sheet.max_row == 8

    def test_text_that_looks_like_a_formula_stays_text(self, sheet):
        assert sheet["A6"].data_type == "s"
        assert sheet["A6"].value == '=HYPERLINK("http://evil.test","click")'
        assert sheet["A7"].data_type == "s"
        assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)

    def test_columns_are_wide_enough(self, sheet):
        widths = {k: d.width for k, d in sheet.column_dimensions.items()}
        assert widths["B"] >= len("1,234,567.89")
        assert widths["E"] >= len("Turnaround (business hours)")
        assert all(exports.MIN_WIDTH <= w <= exports.MAX_WIDTH for w in widths.values())

    def test_money_takes_the_currencys_decimals(self, acme):
        Tenant.objects.filter(pk=acme.tenant.pk).update(base_currency="JPY")
        acme.tenant.refresh_from_db()
        book = read_xlsx(
            exports.respond(partners_table(), "xlsx", tenant=acme.tenant, filename_stem="t")
        )
        assert book.active["B4"].value == "Revenue (JPY)"
        assert book.active["B5"].number_format == "#,##0"

    def test_an_empty_table_is_a_header(self, acme):
        table = partners_table(rows=[], totals=None, title="Partners: at risk [Q4]?")
        book = read_xlsx(exports.respond(table, "xlsx", tenant=acme.tenant, filename_stem="t"))
        assert book.sheetnames == ["Partners  at risk  Q4"]
        assert book.active.max_row == 4


class TestRequested:
    TABLES = {"top_partners": partners_table()}

    def test_no_export_asked_renders_the_page(self, acme):
        assert exports.requested(request_for(acme, {"period": "this_quarter"}), self.TABLES) is None

    @pytest.mark.parametrize("fmt", ["csv", "xlsx", "XLSX"])
    def test_the_asked_table_in_the_asked_format(self, acme, fmt):
        response = exports.requested(
            request_for(acme, {"export": "top_partners", "format": fmt}), self.TABLES
        )
        assert response.status_code == 200
        assert response["Content-Disposition"] == (
            f'attachment; filename="acme-top-partners-2026-10-01-to-2026-12-31.{fmt.lower()}"'
        )

    def test_csv_without_a_format(self, acme):
        response = exports.requested(request_for(acme, {"export": "top_partners"}), self.TABLES)
        assert response["Content-Type"] == "text/csv; charset=utf-8"

    def test_an_unknown_table_is_a_bad_request(self, acme):
        response = exports.requested(
            request_for(acme, {"export": "salaries", "format": "csv"}), self.TABLES
        )
        assert response.status_code == 400
        page = response.content.decode()
        assert "this page has no table “salaries” to export (its tables: top_partners)" in page

    def test_an_unknown_format_is_a_bad_request(self, acme):
        response = exports.requested(
            request_for(acme, {"export": "top_partners", "format": "pdf"}), self.TABLES
        )
        assert response.status_code == 400
        assert "“pdf” is not an export format here (choose csv or xlsx)" in (
            response.content.decode()
        )

    def test_the_file_holds_only_the_table_given(self, acme, globex):
        """The export serialises the page's table: it adds no rows of its
        own, whichever tenant's host asks."""
        response = exports.requested(request_for(globex, {"export": "top_partners"}), self.TABLES)
        assert response["Content-Disposition"].startswith('attachment; filename="globex-')
        assert len(read_csv(response)) == 1 + 3 + 1
