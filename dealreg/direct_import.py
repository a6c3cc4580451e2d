"""The vendor's own pipeline (direct opportunities) from a CRM export: a CSV
checked row by row without writing anything, then imported all or nothing.

A row whose ``external_id`` already exists in the tenant *updates* that
opportunity: a CRM export is re-imported as the pipeline moves (stage,
amount, close date), so the import is an upsert keyed on the CRM id, and the
preview says which rows are new and which update. Opportunities the file does
not list are left as they are. The same ``external_id`` twice in one file is
an error. After an import, pending registrations are checked for conflicts
again, so a newly imported opportunity shows up on the approver's page.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from partners.normalize import normalize_domain, normalize_name
from prm import csvio
from prm import format as fmt
from prm.tenancy import outbox
from prm.tenancy.errors import ServiceError
from prm.tenancy.models import Tenant, User
from prm.tenancy.services import audit

from .models import DealRegistration, DirectOpportunity, ProductLine
from .workflow import CHECK_CONFLICTS

CSV_COLUMNS = [
    "external_id",
    "customer_name",
    "customer_domain",
    "customer_country",
    "products",
    "owner_name",
    "owner_email",
    "stage",
    "amount",
    "currency",
    "close_date",
]
REQUIRED_COLUMNS = {"external_id", "customer_name"}
MAX_IMPORT_ROWS = 5000
# Product lines in one cell: codes or names separated by ";" or ",".
_PRODUCT_SEPARATOR = re.compile(r"[;,]")
_AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")
# Fields an import writes (beside the tenant, the key and the products).
DATA_FIELDS = (
    "customer_name",
    "customer_name_normalized",
    "customer_domain",
    "customer_country",
    "owner_name",
    "owner_email",
    "stage",
    "amount",
    "currency",
    "close_date",
    "imported_at",
)


class DirectImportError(ServiceError):
    """A refused direct opportunity (see ``prm.tenancy.errors``)."""


def normalize_opportunity(opportunity: DirectOpportunity) -> None:
    """Derive the matching keys the conflict check compares: the normalized
    customer name and the bare web domain. Raises DirectImportError."""
    opportunity.customer_name = (opportunity.customer_name or "").strip()
    opportunity.customer_name_normalized = normalize_name(opportunity.customer_name)
    if not opportunity.customer_name_normalized:
        raise DirectImportError("Enter the customer's company name.", "customer_name")
    try:
        opportunity.customer_domain = normalize_domain(opportunity.customer_domain or "")
    except ValueError as exc:
        raise DirectImportError(str(exc), "customer_domain") from exc
    opportunity.currency = (opportunity.currency or "").strip().upper()


@dataclass
class ImportRow:
    line: int
    values: dict
    errors: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    products: list[ProductLine] = field(default_factory=list)
    existing: DirectOpportunity | None = None

    @property
    def action(self) -> str:
        return "update" if self.existing is not None else "new"


@dataclass
class ImportResult(csvio.ImportResult):
    updated: int = 0

    @property
    def new_count(self) -> int:
        return sum(1 for r in self.rows if r.existing is None)

    @property
    def update_count(self) -> int:
        return sum(1 for r in self.rows if r.existing is not None)


_unquote_cell = csvio.unquote_cell


# What CRMs call the closed stages.
_STAGE_ALIASES = {"won": "closed won", "lost": "closed lost"}


def _stage(value: str) -> str:
    given = value.strip().lower().replace("-", " ").replace("_", " ")
    given = _STAGE_ALIASES.get(given, given)
    for key, label in DirectOpportunity.Stage.choices:
        if given in (key.replace("_", " "), label.lower()):
            return key
    allowed = ", ".join(key for key, _ in DirectOpportunity.Stage.choices)
    raise ValueError(f"stage: “{value}” is not one of: {allowed}.")


def _country(value: str) -> str:
    try:
        return csvio.country_code(value)
    except ValueError as exc:
        raise ValueError(f"customer_country: {exc}") from exc


def _amount(value: str) -> Decimal:
    plain = value.replace(" ", "")
    if not _AMOUNT.match(plain):
        raise ValueError(
            f"amount: “{value}” is not an amount; write digits with an optional "
            "decimal point and at most two decimals, e.g. 25000.00."
        )
    try:
        amount = Decimal(plain)
    except InvalidOperation as exc:  # pragma: no cover - the pattern prevents it
        raise ValueError(f"amount: “{value}” is not an amount.") from exc
    if amount >= Decimal("1e12"):
        raise ValueError(f"amount: {value} is too large.")
    return amount


def _close_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"close_date: “{value}” is not a date; write it as 2026-09-30.") from exc


def _field_errors(values: dict[str, str]) -> list[str]:
    return csvio.model_field_errors(DirectOpportunity, values)


def parse_direct_csv(tenant: Tenant, text: str) -> ImportResult:
    """Check a direct opportunity CSV without writing anything: every row
    gets the list of its problems and says whether it is new or an update."""
    return csvio.read_import(
        text,
        ImportResult(rows=[], errors=[]),
        lambda text, result: _parse_rows(tenant, text, result),
    )


def _header_errors(headers: list[str]) -> list[str]:
    errors = []
    missing = REQUIRED_COLUMNS - set(headers)
    if missing:
        errors.append(
            f"Missing required {fmt.noun(len(missing), 'column')}: {', '.join(sorted(missing))}."
        )
    unknown = set(headers) - set(CSV_COLUMNS)
    if unknown:
        errors.append(
            f"Unknown {fmt.noun(len(unknown), 'column')}: "
            f"{', '.join(sorted(unknown))}. Allowed: {', '.join(CSV_COLUMNS)}."
        )
    repeated = sorted({h for h in headers if headers.count(h) > 1})
    if repeated:
        errors.append(
            f"{fmt.noun(len(repeated), 'Column')} named more than once: {', '.join(repeated)}."
        )
    return errors


def _product_lookup(tenant: Tenant) -> dict[str, ProductLine]:
    lookup = {}
    for product in ProductLine.objects.filter(tenant=tenant):
        lookup[product.name.lower()] = product
        lookup[product.code.lower()] = product  # a code wins over a same-named product
    return lookup


def _parse_rows(tenant: Tenant, text: str, result: ImportResult) -> None:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not any(headers):
        result.errors.append("The file is empty.")
        return
    reader.fieldnames = headers
    result.errors += _header_errors(headers)
    if result.errors:
        return

    products = _product_lookup(tenant)
    product_codes = ", ".join(sorted({p.code for p in products.values()})) or "none yet"
    seen_ids: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        if len(result.rows) >= MAX_IMPORT_ROWS:
            result.errors.append(f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
            break
        values = {k: _unquote_cell((v or "").strip()) for k, v in raw.items() if k}
        if not any(values.values()):
            continue
        row = ImportRow(line=number, values=values)
        result.rows.append(row)
        _parse_row(tenant, row, products, product_codes)
        external_id = row.data.get("external_id")
        if external_id:
            if external_id in seen_ids:
                row.errors.append(
                    f"external_id: “{external_id}” is already on line {seen_ids[external_id]} "
                    "of this file."
                )
            seen_ids.setdefault(external_id, number)
    if not result.rows and not result.errors:
        result.errors.append("The file has a header but no rows.")
        return
    existing = {
        o.external_id: o
        for o in DirectOpportunity.objects.filter(tenant=tenant, external_id__in=list(seen_ids))
    }
    for row in result.rows:
        row.existing = existing.get(row.data.get("external_id"))


def check_row(tenant: Tenant, values: dict[str, str]) -> ImportRow:
    """One opportunity given as a CSV row's cells (``CSV_COLUMNS``, as
    text), checked as a row of a file is: ``data`` and ``products`` as an
    import would write them, or ``errors`` ("column: message"). Reads only."""
    row = ImportRow(line=1, values={k: (v or "").strip() for k, v in values.items()})
    products = _product_lookup(tenant)
    product_codes = ", ".join(sorted({p.code for p in products.values()})) or "none yet"
    _parse_row(tenant, row, products, product_codes)
    return row


def _parse_row(tenant: Tenant, row: ImportRow, products: dict, product_codes: str) -> None:
    values = row.values
    data: dict = {
        "external_id": values.get("external_id", ""),
        "customer_name": values.get("customer_name", ""),
        "owner_name": values.get("owner_name", ""),
        "owner_email": values.get("owner_email", "").lower(),
        "stage": DirectOpportunity.Stage.PROSPECTING,
        "customer_country": "",
        "amount": None,
        "currency": values.get("currency", "").upper(),
        "close_date": None,
    }
    for column in ("external_id", "customer_name"):
        if not data[column]:
            row.errors.append(f"{column}: this column is required.")
    checked = ("external_id", "customer_name", "owner_name", "owner_email")
    row.errors += _field_errors({k: data[k] for k in checked if data[k]})
    if data["customer_name"] and not normalize_name(data["customer_name"]):
        row.errors.append("customer_name: give a company name, not only punctuation.")
    try:
        data["customer_domain"] = normalize_domain(values.get("customer_domain", ""))
    except ValueError as exc:
        data["customer_domain"] = ""
        row.errors.append(f"customer_domain: {exc}")
    for column, convert in (
        ("stage", _stage),
        ("customer_country", _country),
        ("amount", _amount),
        ("close_date", _close_date),
    ):
        if values.get(column):
            try:
                data[column] = convert(values[column])
            except ValueError as exc:
                row.errors.append(str(exc))
    if data["currency"] and not re.fullmatch(r"[A-Z]{3}", data["currency"]):
        row.errors.append(f"currency: “{values['currency']}” is not a three-letter code (USD).")
    if data["amount"] is not None and not data["currency"]:
        data["currency"] = tenant.base_currency
    names = [p.strip() for p in _PRODUCT_SEPARATOR.split(values.get("products", ""))]
    for name in filter(None, names):
        product = products.get(name.lower())
        if product is None:
            row.errors.append(
                f"products: “{name}” is not a product line code or name ({product_codes})."
            )
        elif product not in row.products:
            row.products.append(product)
    row.data = data


def import_direct_opportunities(
    *, tenant: Tenant, by: User | None, text: str, now: datetime | None = None
) -> ImportResult:
    """Check and import a direct opportunity CSV, all or nothing: if any row
    has a problem nothing is written and the result says which rows and why.
    Existing external ids are updated (see the module docstring)."""
    now = now or timezone.now()
    with transaction.atomic():
        result = parse_direct_csv(tenant, text)
        if not result.ok:
            return result
        # Lock what this import updates, and re-read it under the lock.
        ids = [r.data["external_id"] for r in result.rows]
        locked = {
            o.external_id: o
            for o in DirectOpportunity.objects.select_for_update().filter(
                tenant=tenant, external_id__in=ids
            )
        }
        new: list[tuple[DirectOpportunity, ImportRow]] = []
        changed: list[tuple[DirectOpportunity, ImportRow]] = []
        for row in result.rows:
            opportunity = locked.get(row.data["external_id"]) or DirectOpportunity(
                tenant=tenant, external_id=row.data["external_id"]
            )
            row.existing = opportunity if not opportunity._state.adding else None
            for name, value in row.data.items():
                if name != "external_id":
                    setattr(opportunity, name, value)
            opportunity.imported_at = now
            normalize_opportunity(opportunity)  # parsing checked the name and domain
            (new if opportunity._state.adding else changed).append((opportunity, row))
        try:
            with transaction.atomic():
                DirectOpportunity.objects.bulk_create([o for o, _ in new])
        except IntegrityError:
            result.errors.append(
                "Another import added some of these external ids a moment ago; upload the "
                "file again to update them."
            )
            transaction.set_rollback(True)
            return result
        DirectOpportunity.objects.bulk_update([o for o, _ in changed], DATA_FIELDS)
        through = DirectOpportunity.product_lines.through
        through.objects.filter(directopportunity_id__in=[o.pk for o, _ in changed]).delete()
        through.objects.bulk_create(
            through(directopportunity_id=o.pk, productline_id=p.pk)
            for o, row in (*new, *changed)
            for p in row.products
        )
        result.created, result.updated = len(new), len(changed)
        audit(
            tenant,
            by=by,
            action="dealreg.direct_imported",
            obj=tenant,
            data={"created": result.created, "updated": result.updated},
            now=now,
        )
        pending = DealRegistration.objects.filter(
            tenant=tenant, status__in=DealRegistration.PENDING
        ).values_list("pk", flat=True)
        outbox.defer_many(tenant, CHECK_CONFLICTS, [{"registration_id": str(pk)} for pk in pending])
    return result
