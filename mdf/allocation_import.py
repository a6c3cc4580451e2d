"""Allocations of one budget from a CSV file (partner, amount, reason):
checked row by row without writing anything, then allocated all or
nothing, each row through ``funds.allocate`` (source: CSV import).

A partner is named as the partner import and the rest of the product name
them: by name (compared as the directory compares names, so "Acme Corp."
finds "ACME Corp"), by web domain, or by its id. Rows add to what a partner
already has of the budget. The dry run finds unknown partners, partners
outside the budget's region or tier (or suspended), amounts that are not
amounts, a partner named twice and a total past what the budget has left;
the import checks again in its transaction, and the database's constraint
refuses an overdraft whatever runs meanwhile.

A budget limited to a tier takes the tier each partner held on the budget's
first day (``funds``: tiers are effective-dated), read for every partner in
one query.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from partners.models import Partner
from partners.normalize import normalize_domain, normalize_name
from partners.tiers import timelines
from prm import csvio
from prm import format as fmt
from prm.tenancy.models import Membership
from prm.tenancy.services import audit

from . import funds
from .errors import MdfError
from .models import Allocation, Budget

CSV_COLUMNS = ["partner", "amount", "reason"]
REQUIRED_COLUMNS = frozenset({"partner", "amount"})
MAX_IMPORT_ROWS = 5000
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
ZERO = Decimal("0")


@dataclass
class AllocationRow:
    line: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    partner: Partner | None = None
    amount: Decimal | None = None
    reason: str = ""
    current: Decimal = ZERO  # what the partner already has of the budget

    @property
    def action(self) -> str:
        return "add to" if self.current else "new"


@dataclass
class AllocationImportResult(csvio.ImportResult):
    budget: Budget | None = None
    left: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return sum((r.amount or ZERO for r in self.rows), ZERO)


def parse_allocations_csv(budget: Budget, text: str) -> AllocationImportResult:
    """The dry run: every row with its problems; nothing is written."""
    result = AllocationImportResult(rows=[], errors=[], budget=budget)
    return csvio.read_import(text, result, lambda text, r: _parse_rows(budget, text, r))


class _Directory:
    """The tenant's partners by name, domain and id, read once."""

    def __init__(self) -> None:
        partners = list(Partner.objects.select_related("region", "tier"))
        # The tier histories, for a budget limited to a tier (``funds.partner_fits``).
        self.lines = timelines(partners)
        self.by_name = {p.normalized_name: p for p in partners}
        self.by_domain = {p.domain: p for p in partners if p.domain}
        self.by_id = {str(p.pk): p for p in partners}

    def find(self, given: str) -> Partner | None:
        try:
            found = self.by_id.get(str(uuid.UUID(given)))
        except ValueError:
            found = None
        if found is None:
            found = self.by_name.get(normalize_name(given))
        if found is None and "." in given:
            try:
                found = self.by_domain.get(normalize_domain(given))
            except ValueError:
                found = None
        return found


def _parse_rows(budget: Budget, text: str, result: AllocationImportResult) -> None:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not csvio.read_headers(
        reader, result.errors, required=REQUIRED_COLUMNS, allowed=CSV_COLUMNS
    ):
        return
    directory = _Directory()
    seen: dict[Any, int] = {}
    for number, raw in enumerate(reader, start=2):
        if len(result.rows) >= MAX_IMPORT_ROWS:
            result.errors.append(f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
            break
        values = {k: csvio.unquote_cell((v or "").strip()) for k, v in raw.items() if k}
        if not any(values.values()) and None not in raw:
            continue
        row = AllocationRow(line=number, values=values, reason=values.get("reason", ""))
        result.rows.append(row)
        if None in raw:
            row.errors.append("The row has more cells than the header has columns.")
        _parse_row(budget, directory, row)
        if row.partner is not None:
            if row.partner.pk in seen:
                row.errors.append(
                    f"{row.partner.name} is already on line {seen[row.partner.pk]} of this file."
                )
            seen.setdefault(row.partner.pk, number)
    if not result.rows and not result.errors:
        result.errors.append("The file has a header but no rows.")
        return
    current = dict(
        Allocation.objects.filter(budget=budget, partner_id__in=seen).values_list(
            "partner_id", "amount"
        )
    )
    for row in result.rows:
        if row.partner is not None:
            row.current = current.get(row.partner.pk, ZERO)
    budget.refresh_from_db(fields=["amount", "allocated"])
    result.left = budget.amount - budget.allocated
    if budget.ends_on < budget.tenant.local_today():
        result.errors.append(
            f"This budget's period ended on {fmt.day(budget.ends_on)}: its funds have expired."
        )
    elif result.total > result.left:
        result.errors.append(
            f"The file allocates {funds.money(result.total, budget.tenant)}, more than the "
            f"{funds.money(result.left, budget.tenant)} this budget has left to allocate."
        )


def _parse_row(budget: Budget, directory: _Directory, row: AllocationRow) -> None:
    given = row.values.get("partner", "")
    if not given:
        row.errors.append("partner: this column is required.")
    else:
        partner = directory.find(given)
        if partner is None:
            row.errors.append(
                f"partner: “{given}” is no partner here (give its name, web domain or id)."
            )
        elif problem := funds.partner_fits(budget, partner, timeline=directory.lines[partner.pk]):
            row.errors.append(f"partner: {problem}")
        else:
            row.partner = partner
    text = row.values.get("amount", "").replace(" ", "").replace(",", "")
    if not text:
        row.errors.append("amount: this column is required.")
    elif not _AMOUNT.match(text):
        row.errors.append(
            f"amount: “{row.values['amount']}” is not an amount; write digits with at most "
            "two decimals, e.g. 12500.00."
        )
    else:
        try:
            amount = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern prevents it
            amount = ZERO
        if amount <= 0:
            row.errors.append("amount: must be greater than zero.")
        else:
            row.amount = amount
    if len(row.reason) > 300:
        row.errors.append("reason: at most 300 characters.")


def import_allocations(budget: Budget, text: str, *, by: Membership) -> AllocationImportResult:
    """Check the file again, then allocate every row in one transaction, or
    none: a refusal of any row (the budget changed meanwhile) rolls all
    back and is reported."""
    result = parse_allocations_csv(budget, text)
    if not result.ok:
        return result
    lines = timelines(r.partner for r in result.rows if r.partner) if budget.tier_id else {}
    try:
        with transaction.atomic():
            for row in result.rows:
                assert row.partner is not None and row.amount is not None
                try:
                    funds.allocate(
                        budget,
                        row.partner,
                        row.amount,
                        by=by,
                        reason=row.reason or "CSV import",
                        source=Allocation.Source.CSV,
                        timeline=lines.get(row.partner.pk),
                    )
                except MdfError as error:
                    row.errors.append(str(error))
                    raise
                result.created += 1
            audit(
                budget.tenant,
                by=by.user,
                action="mdf.allocations_imported",
                obj=budget,
                data={"rows": result.created, "total": str(result.total)},
            )
    except MdfError:
        result.created = 0
        result.errors.append("Nothing was imported: the budget changed meanwhile.")
    return result
