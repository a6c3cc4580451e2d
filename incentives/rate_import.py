"""Exchange rates from a CSV file (currency, valid_from, rate): checked row
by row without writing anything, then imported all or nothing.

A row whose currency and date already have a rate updates it (the preview
says so, and says when the rate is unchanged); rates the file does not list
are left as they are. Entries already booked keep the rate they were booked
at: a rate table edit never rewrites the ledger.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from prm import csvio
from prm import format as fmt
from prm.tenancy.models import Tenant, User
from prm.tenancy.services import audit

from .models import ExchangeRate

CSV_COLUMNS = ["currency", "valid_from", "rate"]
MAX_IMPORT_ROWS = 5000
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_RATE = re.compile(r"^\d{1,10}(\.\d{1,8})?$")


@dataclass
class RateRow:
    line: int
    values: dict
    errors: list[str] = field(default_factory=list)
    currency: str = ""
    valid_from: date | None = None
    rate: Decimal | None = None
    existing: ExchangeRate | None = None

    @property
    def action(self) -> str:
        if self.existing is None:
            return "new"
        return "unchanged" if self.existing.rate == self.rate else "update"


@dataclass
class RateImportResult(csvio.ImportResult):
    updated: int = 0

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def new_count(self) -> int:
        return self.count("new")

    @property
    def update_count(self) -> int:
        return self.count("update")

    @property
    def unchanged_count(self) -> int:
        return self.count("unchanged")


def parse_rates_csv(tenant: Tenant, text: str, *, may_update: bool = True) -> RateImportResult:
    """Check a rates CSV without writing anything: each row gets its
    problems and whether it is new, updates a rate or changes nothing.
    ``may_update=False`` (no change permission) makes updates errors."""
    return csvio.read_import(
        text,
        RateImportResult(rows=[], errors=[]),
        lambda text, result: _parse_rows(tenant, text, result, may_update),
    )


def _parse_rows(tenant: Tenant, text: str, result: RateImportResult, may_update: bool) -> None:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if not any(headers):
        result.errors.append("The file is empty.")
        return
    reader.fieldnames = headers
    missing = [c for c in CSV_COLUMNS if c not in headers]
    if missing:
        result.errors.append(f"Missing {fmt.noun(len(missing), 'column')}: {', '.join(missing)}.")
    unknown = sorted(set(headers) - set(CSV_COLUMNS))
    if unknown:
        result.errors.append(
            f"Unknown {fmt.noun(len(unknown), 'column')}: "
            f"{', '.join(unknown)}. Allowed: {', '.join(CSV_COLUMNS)}."
        )
    repeated = sorted({h for h in headers if headers.count(h) > 1})
    if repeated:
        result.errors.append(
            f"{fmt.noun(len(repeated), 'Column')} named more than once: {', '.join(repeated)}."
        )
    if result.errors:
        return
    seen: dict[tuple, int] = {}
    for number, raw in enumerate(reader, start=2):
        if len(result.rows) >= MAX_IMPORT_ROWS:
            result.errors.append(f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
            break
        values = {k: csvio.unquote_cell((v or "").strip()) for k, v in raw.items() if k}
        if None in raw:
            values["_extra"] = "yes"
        if not any(v for k, v in values.items() if k != "_extra"):
            continue
        row = RateRow(line=number, values=values)
        result.rows.append(row)
        _parse_row(tenant, row)
        if row.currency and row.valid_from:
            pair = (row.currency, row.valid_from)
            if pair in seen:
                row.errors.append(
                    f"{row.currency} from {fmt.day(row.valid_from)} is already on line "
                    f"{seen[pair]} of this file."
                )
            seen.setdefault(pair, number)
    if not result.rows and not result.errors:
        result.errors.append("The file has a header but no rows.")
        return
    currencies = {r.currency for r in result.rows if r.currency}
    existing = {
        (r.currency, r.valid_from): r
        for r in ExchangeRate.objects.filter(tenant=tenant, currency__in=currencies)
    }
    for row in result.rows:
        row.existing = existing.get((row.currency, row.valid_from))
        if not may_update and row.action == "update":
            row.errors.append(
                f"{row.currency} already has a rate from {fmt.day(row.valid_from)} "
                f"({row.existing.rate}); you may add rates but not change them."
            )


def _parse_row(tenant: Tenant, row: RateRow) -> None:
    values = row.values
    if values.get("_extra"):
        row.errors.append("The row has more cells than the header has columns.")
    currency = values.get("currency", "").upper()
    if not currency:
        row.errors.append("currency: this column is required.")
    elif not _CURRENCY.match(currency):
        row.errors.append(
            f"currency: “{values['currency']}” is not a three-letter ISO 4217 code (EUR)."
        )
    elif currency == tenant.base_currency:
        row.errors.append(
            f"currency: {currency} is the base currency; its rate is always 1 and needs no row."
        )
    else:
        row.currency = currency
    given = values.get("valid_from", "")
    if not given:
        row.errors.append("valid_from: this column is required.")
    else:
        try:
            row.valid_from = date.fromisoformat(given)
        except ValueError:
            row.errors.append(f"valid_from: “{given}” is not a date; write it as 2026-09-30.")
    text = values.get("rate", "").replace(" ", "")
    if not text:
        row.errors.append("rate: this column is required.")
    elif not _RATE.match(text):
        row.errors.append(
            f"rate: “{values['rate']}” is not a rate; write digits with a decimal point and "
            "at most eight decimals, e.g. 1.0837 (one unit of the currency in the base "
            "currency)."
        )
    else:
        try:
            rate = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern prevents it
            rate = None
        if rate is None or rate <= 0:
            row.errors.append("rate: must be greater than zero.")
        else:
            row.rate = rate


def import_rates(
    *, tenant: Tenant, by: User | None, text: str, may_update: bool = True
) -> RateImportResult:
    """Check and import a rates CSV, all or nothing: if any row has a
    problem nothing is written and the result says which rows and why."""
    now = timezone.now()
    result = parse_rates_csv(tenant, text, may_update=may_update)
    if not result.ok:
        return result
    try:
        with transaction.atomic():
            for row in result.rows:
                if row.action == "new":
                    ExchangeRate.objects.create(
                        tenant=tenant,
                        currency=row.currency,
                        valid_from=row.valid_from,
                        rate=row.rate,
                        created_by=by,
                        created_at=now,
                    )
                    result.created += 1
                elif row.action == "update":
                    ExchangeRate.objects.filter(pk=row.existing.pk).update(rate=row.rate)
                    result.updated += 1
            changes = [
                [
                    r.currency,
                    str(r.valid_from),
                    str(r.existing.rate) if r.existing else "",
                    str(r.rate),
                ]
                for r in result.rows
                if r.action != "unchanged"
            ]
            audit(
                tenant,
                by=by,
                action="incentives.rates_imported",
                obj=tenant,
                data={
                    "created": result.created,
                    "updated": result.updated,
                    "changes": changes[:500],
                },
                now=now,
            )
    except IntegrityError:
        # Someone added one of these rates between the check and the write.
        result.created = result.updated = 0
        result.errors.append(
            "Another change to the rate table came in meanwhile; nothing was imported. "
            "Check the file again."
        )
    return result
