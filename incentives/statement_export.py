"""A statement as rows for its page, and as CSV and PDF files.

The page, the CSV and the PDF show the same line: when it was booked, its
kind and description, the deal it came from, the plan version, its own
amount and currency, the exchange rate and the base amount, the deal's
close date, when it is payable and whether a payout has settled it.
"""

import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import cast

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from dealreg.models import DealRegistration
from prm import csvio
from prm import format as fmt
from prm.tenancy.models import Tenant

from .models import Dispute, LedgerEntry, PayoutRun, PlanVersion, Settlement
from .money import quantum
from .statements import StatementView
from .wording import cause


@dataclass
class Line:
    entry: LedgerEntry
    booked: datetime
    deal: DealRegistration | None
    plan: str
    paid_run: str
    paid_on: date | None
    dispute: Dispute | None

    @property
    def disputable(self) -> bool:
        return self.dispute is None or not self.dispute.is_open


def _settlement(entry: LedgerEntry) -> Settlement | None:
    try:
        return entry.settlement
    except LedgerEntry.settlement.RelatedObjectDoesNotExist:
        return None


def plain(amount: Decimal, currency: str) -> str:
    """An amount for a CSV cell: a plain number in the currency's decimals."""
    return str(amount.quantize(quantum(currency)))


# The optional references of LedgerEntry lose their types in incentives.models
# (unchecked until the models package lands): named here by cast.


def deal_of(entry: LedgerEntry) -> DealRegistration | None:
    """The deal a line comes from: its own, or (for a dispute's adjustment)
    the deal of the disputed line."""
    if entry.registration_id:
        return cast(DealRegistration, entry.registration)
    if entry.dispute_id:
        disputed = cast(Dispute, entry.dispute).entry
        if disputed.registration_id:
            return cast(DealRegistration, disputed.registration)
    return None


def line(
    entry: LedgerEntry, tzinfo: tzinfo, disputes: dict[uuid.UUID, Dispute] | None = None
) -> Line:
    settlement = _settlement(entry)
    if settlement is not None:
        paid_run, paid_on = settlement.run.reference, settlement.paid_on
    elif entry.kind == LedgerEntry.Kind.PAYOUT and entry.payout_run_id:
        run = cast(PayoutRun, entry.payout_run)
        paid_at = run.paid_at
        paid_run = run.reference
        paid_on = timezone.localtime(paid_at, tzinfo).date() if paid_at else None
    else:
        paid_run, paid_on = "", None
    version = cast(PlanVersion | None, entry.plan_version)
    return Line(
        entry=entry,
        booked=timezone.localtime(entry.created_at, tzinfo),
        deal=deal_of(entry),
        plan=f"{version.plan.name} v{version.number}" if version else "",
        paid_run=paid_run,
        paid_on=paid_on,
        dispute=(disputes or {}).get(entry.pk),
    )


def rows(
    entries: Iterable[LedgerEntry], tenant: Tenant, disputes: dict[uuid.UUID, Dispute] | None = None
) -> list[Line]:
    tz = tenant.tzinfo
    return [line(e, tz, disputes) for e in entries]


# --- CSV ------------------------------------------------------------------------------

CSV_COLUMNS = [
    "booked",
    "kind",
    "what happened",
    "description",
    "deal",
    "customer",
    "plan version",
    "effective date",
    "available on",
    "amount",
    "currency",
    "exchange rate",
    "amount (base)",
    "base currency",
    "paid in run",
    "paid on",
    "entry id",
]


def _csv_rows(view: StatementView, entries: Iterable[LedgerEntry]) -> Iterator[list[object]]:
    tz = view.partner.tenant.tzinfo
    for entry in entries:
        row = line(entry, tz)
        deal = row.deal
        yield [
            row.booked.strftime("%Y-%m-%d %H:%M"),
            entry.get_kind_display(),
            cause(entry),
            entry.description,
            deal.code if deal else "",
            deal.customer_name if deal else "",
            row.plan,
            entry.effective_date,
            entry.available_on,
            plain(entry.amount, entry.currency),
            entry.currency,
            _rate(entry.fx_rate),
            plain(entry.amount_base, entry.base_currency),
            entry.base_currency,
            row.paid_run,
            row.paid_on or "",
            entry.pk,
        ]
    yield []
    for label, value in totals(view):
        # The total under "amount (base)", its currency under "base currency".
        blanks = [""] * (CSV_COLUMNS.index("amount (base)") - 1)
        yield [label, *blanks, plain(value, view.currency), view.currency]


def totals(view: StatementView) -> list[tuple[str, Decimal]]:
    """The statement's totals; MDF reimbursements only for partners that
    have any in the period (most programs pay none)."""
    mdf = [("MDF reimbursements", view.reimbursements)] if view.reimbursements else []
    return [
        (f"Opening balance {view.start:%Y-%m-%d}", view.opening),
        ("Accruals", view.accruals),
        ("Adjustments", view.adjustments),
        ("Clawbacks", view.clawbacks),
        *mdf,
        ("Payouts", view.payouts),
        (f"Closing balance {view.end:%Y-%m-%d}", view.closing),
    ]


def filename(view: StatementView, extension: str) -> str:
    tenant = view.partner.tenant
    partner = "".join(c if c.isalnum() else "-" for c in view.partner.name.lower()).strip("-")
    return f"{tenant.slug}-statement-{partner[:40]}-{view.start:%Y-%m-%d}.{extension}"


def csv_response(
    view: StatementView, entries: QuerySet[LedgerEntry]
) -> HttpResponse | StreamingHttpResponse:
    """Every line of the statement, then its totals (base currency); cells
    are safe to open in a spreadsheet. Streamed: ten thousand lines never
    sit in memory at once."""
    return csvio.csv_response(
        filename(view, "csv"),
        _csv_rows(view, entries.iterator(chunk_size=2000)),
        CSV_COLUMNS,
        stream=True,
    )


# --- PDF ------------------------------------------------------------------------------

PAGE_MARGIN = 36
ROW_HEIGHT = 12
# Points taken by the page header, and by the totals on the first page.
HEADER_BAND = 40
TOTALS_BAND = 89
FONT_SIZE = 7.5
# (title, width in points, right-aligned)
PDF_COLUMNS = [
    ("Booked", 52, False),
    ("What happened", 110, False),
    ("Description", 122, False),
    ("Deal", 72, False),
    ("Plan", 80, False),
    ("Effective", 48, False),
    ("Available", 48, False),
    ("Amount", 68, True),
    ("Rate", 44, True),
    ("Base amount", 68, True),
    ("Paid", 58, False),
]


def _fonts() -> tuple[str, str]:
    """Bitstream Vera, which ships with reportlab: unlike the built-in
    PDF fonts it takes any Unicode text (missing glyphs show as boxes)."""
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "PRM-Sans" not in pdfmetrics.getRegisteredFontNames():
        folder = next(Path(p) for p in rl_config.TTFSearchPath if (Path(p) / "Vera.ttf").is_file())
        pdfmetrics.registerFont(TTFont("PRM-Sans", str(folder / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont("PRM-Sans-Bold", str(folder / "VeraBd.ttf")))
    return "PRM-Sans", "PRM-Sans-Bold"


def _fit(text: str, font: str, size: float, width: float) -> str:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    text = " ".join(str(text).split())
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _rate(value: Decimal) -> str:
    """An exchange rate without trailing zeros (1.0837, not 1.08370000)."""
    return format(value.normalize(), "f")


def pdf_pages(line_count: int) -> int:
    """How many pages the PDF of a statement with ``line_count`` lines has."""
    first, other = _rows_per_page()
    if line_count <= first:
        return 1
    return 1 + -(-(line_count - first) // other)


def _rows_per_page() -> tuple[int, int]:
    """Lines on the first page (below the totals) and on each later one."""
    from reportlab.lib.pagesizes import A4, landscape

    _, height = landscape(A4)
    below_header = height - PAGE_MARGIN - HEADER_BAND - (ROW_HEIGHT + 2) - PAGE_MARGIN
    return (
        int((below_header - TOTALS_BAND) // ROW_HEIGHT),
        int(below_header // ROW_HEIGHT),
    )


def pdf_bytes(
    view: StatementView, entries: Iterable[LedgerEntry], *, now: datetime | None = None
) -> bytes:
    """The statement as a PDF (A4 landscape): vendor, partner and period on
    every page, the totals on the first, then every line, page after page."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen.canvas import Canvas

    regular, bold = _fonts()
    tenant = view.partner.tenant
    tz = tenant.tzinfo
    now = timezone.localtime(now or timezone.now(), tz)
    width, height = landscape(A4)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(width, height), pageCompression=1)
    title = f"{tenant.name} · Partner statement · {view.partner.name} · {view.label}"
    canvas.setTitle(title)
    canvas.setAuthor(tenant.name)
    canvas.setSubject(f"Statement {view.start:%Y-%m-%d} to {view.end:%Y-%m-%d}")
    pages = pdf_pages(view.line_count)
    first_rows, other_rows = _rows_per_page()
    page = 0
    left = PAGE_MARGIN
    right = width - PAGE_MARGIN

    money = fmt.money

    def start_page() -> float:
        nonlocal page
        page += 1
        top = height - PAGE_MARGIN
        canvas.setFont(bold, 13)
        canvas.drawString(left, top - 12, f"{tenant.name} — partner statement")
        canvas.setFont(regular, 9)
        canvas.drawString(
            left,
            top - 26,
            f"{view.partner.name} · {view.label} ({fmt.day(view.start)} to {fmt.day(view.end)})"
            + ("" if view.ended else " · period in progress"),
        )
        canvas.drawRightString(right, top - 12, f"Page {page} of {pages}")
        canvas.drawRightString(
            right, top - 26, f"Generated {fmt.moment(now, tz)} ({tenant.timezone})"
        )
        canvas.setLineWidth(0.5)
        canvas.line(left, top - 32, right, top - 32)
        return top - HEADER_BAND

    def header_row(y: float) -> float:
        canvas.setFont(bold, FONT_SIZE)
        x = left
        for name, col_width, numeric in PDF_COLUMNS:
            if numeric:
                canvas.drawRightString(x + col_width - 3, y - 9, name)
            else:
                canvas.drawString(x, y - 9, name)
            x += col_width
        canvas.line(left, y - ROW_HEIGHT, right, y - ROW_HEIGHT)
        return y - ROW_HEIGHT - 2

    def finish_page() -> None:
        canvas.setFont(regular, 7)
        canvas.drawString(
            left,
            PAGE_MARGIN - 12,
            f"Totals in {view.currency}; each line in its own currency, converted at its rate.",
        )
        canvas.showPage()

    y = start_page()
    # Totals
    canvas.setFont(bold, 10)
    canvas.drawString(left, y - 12, f"Totals ({view.currency})")
    canvas.setFont(regular, 9)
    box_y = y - 26
    for index, (label, value) in enumerate(totals(view)):
        column, row = divmod(index, 3)
        x = left + column * 300
        canvas.drawString(x, box_y - row * 13, label)
        canvas.drawRightString(x + 260, box_y - row * 13, money(value, view.currency))
    canvas.drawString(
        left,
        box_y - 3 * 13 - 4,
        fmt.plural(view.line_count, "line")
        + (f" · issued {fmt.day(view.issued.issued_at, tz)}" if view.issued else ""),
    )
    y = header_row(y - TOTALS_BAND)
    room = first_rows
    written = 0
    for entry in entries:
        if room == 0:
            finish_page()
            y = header_row(start_page())
            room = other_rows
        shown = line(entry, tz)
        deal = shown.deal
        paid = ""
        if shown.paid_run:
            paid = f"{shown.paid_run}" + (
                f" {shown.paid_on.day} {shown.paid_on:%b}" if shown.paid_on else ""
            )
        cells = [
            fmt.day(shown.booked, tz),
            cause(entry),
            entry.description,
            deal.code if deal else "",
            shown.plan,
            fmt.day(entry.effective_date),
            fmt.day(entry.available_on),
            money(entry.amount, entry.currency),
            _rate(entry.fx_rate),
            money(entry.amount_base, entry.base_currency),
            paid,
        ]
        canvas.setFont(regular, FONT_SIZE)
        x = left
        for (_, col_width, numeric), text in zip(PDF_COLUMNS, cells, strict=True):
            text = _fit(text, regular, FONT_SIZE, col_width - 4)
            if numeric:
                canvas.drawRightString(x + col_width - 3, y - 9, text)
            else:
                canvas.drawString(x, y - 9, text)
            x += col_width
        y -= ROW_HEIGHT
        room -= 1
        written += 1
    if not written:
        canvas.setFont(regular, 9)
        canvas.drawString(left, y - 12, "No entries were booked in this period.")
    finish_page()
    canvas.save()
    return buffer.getvalue()
