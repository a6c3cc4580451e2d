"""CSV import and export helpers every app's imports and exports share.

Imports check a whole file first (each row gets its list of problems) and
then write all rows or none; exports write cells a spreadsheet shows as
text, and imports read such cells back as they were."""

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django_countries import countries

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


def country_code(value: str) -> str:
    """The ISO code of a country given by name or code; ValueError if none."""
    value = value.strip()
    code = countries.alpha2(value) or countries.by_name(value)
    if not code:
        raise ValueError(f"Country “{value}” is not a known country name or ISO code.")
    return code


def model_field_errors(model, values: dict[str, str], prefix: str = "") -> list[str]:
    """Messages for values the model's fields would refuse (length, format),
    so a dry run finds what saving would."""
    errors = []
    for name, value in values.items():
        try:
            model._meta.get_field(name).clean(value, None)
        except ValidationError as exc:
            errors.append(f"{prefix}{name}: {' '.join(exc.messages)}")
    return errors


@dataclass
class ImportResult:
    """Rows (each with ``errors``) and file-level problems of an import."""

    rows: list
    errors: list[str]
    created: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and all(not r.errors for r in self.rows)

    @property
    def error_count(self) -> int:
        return len(self.errors) + sum(1 for r in self.rows if r.errors)


def read_import(text: str, result: ImportResult, parse_rows: Callable) -> ImportResult:
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
