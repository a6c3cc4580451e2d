"""Leads an activity brought, uploaded by the partner as CSV (name, email,
company, phone): checked row by row without writing anything (the dry
run), then imported all or nothing, as ``prm.tenancy.csv_import`` imports
do. An email already on the activity (case-insensitive), or twice in the
file, is an error on its row naming the other one.

The uploaded leads are what ``mdf.roi`` counts for the activity's cost per
lead (instead of the number its claim reports).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from prm import csvio
from prm import format as fmt
from prm.tenancy.models import User
from prm.tenancy.services import audit

from .errors import MdfError
from .models import ActivityLead, FundRequest

CSV_COLUMNS = ["name", "email", "company", "phone"]
REQUIRED = ("name", "email")
MAX_IMPORT_ROWS = 5000
LIMITS = {"name": 200, "email": 254, "company": 200, "phone": 40}
# Leads come from activities that were funded.
OPEN_TO_LEADS = (FundRequest.Status.APPROVED, FundRequest.Status.CLAIMED, FundRequest.Status.CLOSED)


@dataclass
class LeadRow:
    line: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)

    @property
    def email(self) -> str:
        return self.values.get("email", "")


@dataclass
class Result(csvio.ImportResult):
    dry_run: bool = True

    @property
    def ready(self) -> int:
        return len(self.rows) if self.ok else 0


def _text(csv_file: str | bytes | IO[Any]) -> str:
    data = csv_file if isinstance(csv_file, str | bytes) else csv_file.read()
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MdfError(
                "The file is not UTF-8 text; save it as “CSV UTF-8” and try again.", "file"
            ) from exc
    return data


def parse(request: FundRequest, text: str) -> Result:
    """The dry run: every row with its problems; nothing is written."""
    return csvio.read_import(
        text, Result(rows=[], errors=[]), lambda text, result: _parse_rows(request, text, result)
    )


def _parse_rows(request: FundRequest, text: str, result: Result) -> None:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if not any(headers):
        result.errors.append("The file is empty.")
        return
    reader.fieldnames = headers
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        result.errors.append(f"Missing {fmt.noun(len(missing), 'column')}: {', '.join(missing)}.")
    unknown = sorted(set(headers) - set(CSV_COLUMNS))
    if unknown:
        result.errors.append(
            f"Unknown {fmt.noun(len(unknown), 'column')}: {', '.join(unknown)}. "
            f"Allowed: {', '.join(CSV_COLUMNS)}."
        )
    if result.errors:
        return
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        if len(result.rows) >= MAX_IMPORT_ROWS:
            result.errors.append(f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
            break
        values = {k: csvio.unquote_cell((v or "").strip()) for k, v in raw.items() if k}
        if not any(values.values()) and None not in raw:
            continue
        row = LeadRow(line=number, values=values)
        result.rows.append(row)
        if None in raw:
            row.errors.append("The row has more cells than the header has columns.")
        _check_row(row)
        key = row.email.lower()
        if key and not row.errors:
            if key in seen:
                row.errors.append(
                    f"email: {row.email} is already on line {seen[key]} of this file."
                )
            seen.setdefault(key, number)
    if not result.rows and not result.errors:
        result.errors.append("The file has a header but no rows.")
        return
    existing = set(ActivityLead.objects.filter(request=request).values_list("email", flat=True))
    known = {email.lower() for email in existing}
    for row in result.rows:
        if row.email and row.email.lower() in known:
            row.errors.append(f"email: {row.email} is already a lead of this activity.")


def _check_row(row: LeadRow) -> None:
    for name in REQUIRED:
        if not row.values.get(name):
            row.errors.append(f"{name}: this column is required.")
    for name, limit in LIMITS.items():
        if len(row.values.get(name, "")) > limit:
            row.errors.append(f"{name}: at most {limit} characters.")
    if row.email:
        try:
            validate_email(row.email)
        except ValidationError:
            row.errors.append(f"email: “{row.email}” is not an email address.")


def import_leads(
    request: FundRequest,
    csv_file: str | bytes | IO[Any],
    *,
    by_user: User,
    dry_run: bool,
) -> Result:
    """Check the file (``dry_run``), or check it again and add every row as
    a lead of the activity in one transaction, or none: if any row has a
    problem nothing is written and the result says which rows and why."""
    if request.status not in OPEN_TO_LEADS:
        raise MdfError("Leads can be added to an approved activity only.", "file")
    result = parse(request, _text(csv_file))
    result.dry_run = dry_run
    if dry_run or not result.ok:
        return result
    now = timezone.now()
    try:
        with transaction.atomic():
            ActivityLead.objects.bulk_create(
                ActivityLead(
                    tenant_id=request.tenant_id,
                    request=request,
                    name=row.values["name"],
                    email=row.values["email"],
                    company=row.values.get("company", ""),
                    phone=row.values.get("phone", ""),
                    uploaded_by=by_user,
                    uploaded_at=now,
                )
                for row in result.rows
            )
            audit(
                request.tenant,
                by=by_user,
                action="mdf.leads_imported",
                obj=request,
                data={"leads": len(result.rows)},
                now=now,
            )
    except IntegrityError:
        # Someone added the same lead meanwhile: nothing was written.
        result.errors.append(
            "Nothing was imported: some of these leads were added meanwhile; upload the file again."
        )
        return result
    result.created = len(result.rows)
    return result
