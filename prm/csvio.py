"""CSV import and export helpers every app's imports and exports share.

Imports check a whole file first (each row gets its list of problems) and
then write all rows or none; exports write cells a spreadsheet shows as
text, and imports read such cells back as they were."""

import csv
import io
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Field, Model
from django.http import HttpResponse, StreamingHttpResponse
from django_countries import countries

from . import format as fmt

if TYPE_CHECKING:
    from prm.tenancy.models import Tenant

# Cells a spreadsheet would read as a formula. A quote in front makes them
# text; ``+`` and ``-`` are left alone on plain numbers and phone numbers.
_FORMULA_START = ("=", "@", "\t", "\r")
_SIGN_START = ("+", "-")
_PLAIN_NUMBER = re.compile(r"^[+-][0-9 ().,/-]*$")


def spreadsheet_safe(value: str) -> str:
    """``value`` as a CSV cell that spreadsheets show as text, never run as
    a formula (CWE-1236): a single quote is put in front of a cell starting
    with ``=``, ``@``, tab or carriage return, and of one starting with
    ``+`` or ``-`` unless it is a plain number or phone number."""
    if value.startswith(_FORMULA_START) or (
        value.startswith(_SIGN_START) and not _PLAIN_NUMBER.match(value)
    ):
        return "'" + value
    return value


def unquote_cell(value: str) -> str:
    """Undo ``spreadsheet_safe`` so an exported file imports as it was."""
    if value.startswith("'") and (
        value[1:].startswith(_FORMULA_START) or value[1:].startswith(_SIGN_START)
    ):
        return value[1:]
    return value


def safe_cells(cells: Iterable[object]) -> list[str]:
    """A row's cells as text a spreadsheet shows as text (``None`` is empty)."""
    return [spreadsheet_safe("" if cell is None else str(cell)) for cell in cells]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(
    rows: Iterable[Iterable[object]], header: Iterable[str] | None = None
) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows`` one line at a time, every cell
    formula-safe: for streaming an export of any length."""
    writer = csv.writer(_Echo())
    if header is not None:
        yield writer.writerow(safe_cells(header))
    for row in rows:
        yield writer.writerow(safe_cells(row))


def csv_text(rows: Iterable[Iterable[object]], header: Iterable[str] | None = None) -> str:
    """The whole CSV text of ``header`` and ``rows``, every cell formula-safe."""
    out = io.StringIO()
    for line in csv_lines(rows, header):
        out.write(line)
    return out.getvalue()


def export_filename(
    tenant: "Tenant", what: str, now: datetime | None = None, ext: str = "csv"
) -> str:
    """``<tenant slug>-<what>-<YYYYmmdd-HHMM>.<ext>``, stamped in the tenant's zone."""
    return f"{tenant.slug}-{what}-{tenant.local_now(now):%Y%m%d-%H%M}.{ext}"


def csv_response(
    filename: str,
    rows: Iterable[Iterable[object]],
    header: Iterable[str] | None = None,
    *,
    stream: bool = False,
) -> HttpResponse | StreamingHttpResponse:
    """An attachment download of ``header`` and ``rows`` as CSV (UTF-8), every
    cell formula-safe. ``stream=True`` writes it while ``rows`` is iterated
    (large exports); otherwise it is built in memory."""
    content_type = "text/csv; charset=utf-8"
    response: HttpResponse | StreamingHttpResponse
    if stream:
        response = StreamingHttpResponse(csv_lines(rows, header), content_type=content_type)
    else:
        response = HttpResponse(csv_text(rows, header), content_type=content_type)
    safe_name = filename.replace('"', "").replace("\\", "").replace("\n", "").replace("\r", "")
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response


def country_code(value: str) -> str:
    """The ISO code of a country given by name or code; ValueError if none."""
    value = value.strip()
    code = countries.alpha2(value) or countries.by_name(value)
    if not code:
        raise ValueError(f"Country “{value}” is not a known country name or ISO code.")
    return code


def model_field_errors(model: type[Model], values: dict[str, str], prefix: str = "") -> list[str]:
    """Messages for values the model's fields would refuse (length, format),
    so a dry run finds what saving would."""
    errors = []
    for name, value in values.items():
        try:
            field = model._meta.get_field(name)
            assert isinstance(field, Field)  # a model attribute, not a reverse relation
            field.clean(value, None)
        except ValidationError as exc:
            errors.append(f"{prefix}{name}: {' '.join(exc.messages)}")
    return errors


@dataclass
class ImportResult:
    """Rows (each with ``errors``) and file-level problems of an import."""

    rows: list[Any]
    errors: list[str]
    created: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and all(not r.errors for r in self.rows)

    @property
    def error_count(self) -> int:
        return len(self.errors) + sum(1 for r in self.rows if r.errors)


_R = TypeVar("_R", bound=ImportResult)


def read_import(text: str, result: _R, parse_rows: Callable[[str, _R], object]) -> _R:
    """Run ``parse_rows(text, result)`` and turn what is not CSV UTF-8 text
    into a file-level error instead of an exception."""
    if "\x00" in text:
        result.errors.append(
            "The file contains NUL characters (it may be UTF-16); save it as "
            "“CSV UTF-8” and try again."
        )
        return result
    try:
        parse_rows(text, result)
    except csv.Error as exc:
        result.rows = []
        result.errors.append(f"The file is not valid CSV: {exc}.")
    return result


def read_headers(
    reader: "csv.DictReader[str]",
    errors: list[str],
    *,
    required: Collection[str],
    allowed: Sequence[str],
) -> bool:
    """Read ``reader``'s header row as lower-case names (the reader then
    uses them) and say in ``errors`` what is wrong with it: an empty file,
    missing required columns, unknown or repeated ones. True when the rows
    can be read."""
    headers = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if not any(headers):
        errors.append("The file is empty.")
        return False
    reader.fieldnames = headers
    before = len(errors)
    missing = sorted(set(required) - set(headers))
    if missing:
        errors.append(f"Missing {fmt.noun(len(missing), 'column')}: {', '.join(missing)}.")
    unknown = sorted(set(headers) - set(allowed))
    if unknown:
        errors.append(
            f"Unknown {fmt.noun(len(unknown), 'column')}: {', '.join(unknown)}. "
            f"Allowed: {', '.join(allowed)}."
        )
    repeated = sorted({h for h in headers if headers.count(h) > 1})
    if repeated:
        errors.append(
            f"{fmt.noun(len(repeated), 'Column')} named more than once: {', '.join(repeated)}."
        )
    return len(errors) == before
