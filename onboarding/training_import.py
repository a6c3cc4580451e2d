"""Training records from a learning system's CSV export: checked row by row
without writing anything, then recorded all or nothing, each row through
``training.record`` (source: import, confirmed), so the partners' plan
training steps complete as for a record entered by hand.

Columns: ``email``, ``course_or_certification_code``, ``completed_on``
(YYYY-MM-DD), and optionally ``score`` and ``certificate_id`` (the REST
API's import gives the same columns as the keys of each row of a batch:
``parse_training_rows``, ``import_training_rows``). A person is
matched by email among the active people of this tenant's partners (the
vendor's staff and unknown addresses are row errors; another tenant's people
are never looked at). The code names an active course or certification,
in any case. The date may not be in the future; a row the file repeats, or
one already recorded (same person, achievement and date), is refused with
where it was found.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower

from prm import csvio
from prm import format as fmt
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import PARTNER_ROLES
from prm.tenancy.services import audit

from . import training
from .announce import batch
from .errors import OnboardingError
from .models import Certification, Course, TrainingRecord

CSV_COLUMNS = ["email", "course_or_certification_code", "completed_on", "score", "certificate_id"]
REQUIRED_COLUMNS = frozenset({"email", "course_or_certification_code", "completed_on"})
MAX_IMPORT_ROWS = 5000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SCORE = re.compile(r"^\d{1,4}(\.\d)?$")

Achievement = Course | Certification


@dataclass
class TrainingRow:
    line: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    person: Membership | None = None
    achievement: Achievement | None = None
    completed_on: date | None = None
    score: Decimal | None = None
    certificate_id: str = ""
    record: TrainingRecord | None = None  # once imported

    @property
    def field_errors(self) -> list[tuple[str | None, str]]:
        """The row's problems as (column, message); None for the row as a
        whole (the messages about a column start with its name)."""
        found: list[tuple[str | None, str]] = []
        for message in self.errors:
            column, colon, rest = message.partition(": ")
            if colon and column in CSV_COLUMNS:
                found.append((column, rest))
            else:
                found.append((None, message))
        return found

    @property
    def key(self) -> tuple[Any, str, Any, date] | None:
        """What makes the row the same achievement as another."""
        if self.person is None or self.achievement is None or self.completed_on is None:
            return None
        kind = "course" if isinstance(self.achievement, Course) else "certification"
        return (self.person.pk, kind, self.achievement.pk, self.completed_on)


@dataclass
class TrainingImportResult(csvio.ImportResult):
    pass


def parse_training_csv(tenant: Tenant, text: str) -> TrainingImportResult:
    """The dry run: every row with its problems; nothing is written."""
    result = TrainingImportResult(rows=[], errors=[])
    return csvio.read_import(text, result, lambda text, r: _parse_rows(tenant, text, r))


class _Lookup:
    """The people (by email) and the catalogue (by code) a file names, read
    in three queries."""

    def __init__(self, tenant: Tenant, emails: set[str]) -> None:
        people = (
            Membership.objects.filter(tenant=tenant, is_active=True, user__is_active=True)
            .annotate(email=Lower("user__email"))
            .filter(email__in=emails)
            .select_related("user", "partner", "tenant")
        )
        self.people = {p.email: p for p in people}
        self.courses = {c.code.lower(): c for c in Course.objects.filter(is_active=True)}
        self.certifications = {
            c.code.lower(): c for c in Certification.objects.filter(is_active=True)
        }

    def person(self, email: str) -> tuple[Membership | None, str]:
        found = self.people.get(email.lower())
        if found is None:
            return None, (f"email: nobody at a partner of this program has the address “{email}”.")
        if found.role not in PARTNER_ROLES or found.partner_id is None:
            return None, f"email: {email} is one of the vendor's staff, not a partner's person."
        return found, ""

    def achievement(self, code: str) -> tuple[Achievement | None, str]:
        course = self.courses.get(code.lower())
        certification = self.certifications.get(code.lower())
        if course is not None and certification is not None:
            return None, (
                f"course_or_certification_code: “{code}” is both a course and a "
                "certification; give one of them another code."
            )
        if course is None and certification is None:
            return None, (
                f"course_or_certification_code: “{code}” is no active course or certification here."
            )
        return course or certification, ""


def _parse_rows(tenant: Tenant, text: str, result: TrainingImportResult) -> None:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not csvio.read_headers(
        reader, result.errors, required=REQUIRED_COLUMNS, allowed=CSV_COLUMNS
    ):
        return
    raw_rows: list[tuple[int, dict[str, str], bool]] = []
    for number, raw in enumerate(reader, start=2):
        if len(raw_rows) >= MAX_IMPORT_ROWS:
            result.errors.append(f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
            break
        values = {k: csvio.unquote_cell((v or "").strip()) for k, v in raw.items() if k}
        if not any(values.values()) and None not in raw:
            continue
        raw_rows.append((number, values, None in raw))
    if not raw_rows and not result.errors:
        result.errors.append("The file has a header but no rows.")
        return
    _check_rows(
        tenant,
        result,
        raw_rows,
        repeated=lambda line: f"The same record is already on line {line} of this file.",
    )


def parse_training_rows(tenant: Tenant, rows: Sequence[Mapping[str, str]]) -> TrainingImportResult:
    """The dry run of a batch of rows given as mappings (the REST API's
    import): the columns' names as keys, the same checks as a file's rows.
    Each row's ``line`` is its index in the batch; nothing is written."""
    result = TrainingImportResult(rows=[], errors=[])
    if not rows:
        result.errors.append("Give at least one row.")
    elif len(rows) > MAX_IMPORT_ROWS:
        result.errors.append(f"A batch has at most {MAX_IMPORT_ROWS} rows; split it.")
    else:
        given = [
            (index, {k: str(v or "").strip() for k, v in row.items()}, False)
            for index, row in enumerate(rows)
        ]
        _check_rows(
            tenant,
            result,
            given,
            repeated=lambda index: f"The same record is already in this batch, at rows.{index}.",
        )
        for row in result.rows:
            unknown = sorted(set(row.values) - set(CSV_COLUMNS))
            if unknown:
                row.errors.append(
                    f"Unknown {fmt.noun(len(unknown), 'column')}: {', '.join(unknown)}. "
                    f"Allowed: {', '.join(CSV_COLUMNS)}."
                )
    return result


def _check_rows(
    tenant: Tenant,
    result: TrainingImportResult,
    raw_rows: list[tuple[int, dict[str, str], bool]],
    *,
    repeated: Callable[[int], str],
) -> None:
    """Each row (its line, its values by column, whether it had more cells
    than columns) checked on its own, against the rows before it
    (``repeated`` says where the same record was) and against what is
    recorded already."""
    lookup = _Lookup(tenant, {v.get("email", "").lower() for _, v, _ in raw_rows})
    today = tenant.local_today()
    seen: dict[Any, int] = {}
    for number, values, overflow in raw_rows:
        row = TrainingRow(line=number, values=values)
        result.rows.append(row)
        if overflow:
            row.errors.append("The row has more cells than the header has columns.")
        _parse_row(lookup, row, today)
        key = row.key
        if key is not None:
            if key in seen:
                row.errors.append(repeated(seen[key]))
            seen.setdefault(key, number)
    _already_recorded(result.rows)


def _parse_row(lookup: _Lookup, row: TrainingRow, today: date) -> None:
    email = row.values.get("email", "")
    if not email:
        row.errors.append("email: this column is required.")
    else:
        row.person, problem = lookup.person(email)
        if problem:
            row.errors.append(problem)
    code = row.values.get("course_or_certification_code", "")
    if not code:
        row.errors.append("course_or_certification_code: this column is required.")
    else:
        row.achievement, problem = lookup.achievement(code)
        if problem:
            row.errors.append(problem)
    _parse_day(row, today)
    score = row.values.get("score", "")
    if score:
        if not _SCORE.match(score):
            row.errors.append(
                f"score: “{score}” is not a score; write a number with at most one decimal, "
                "e.g. 87.5."
            )
        else:
            try:
                row.score = Decimal(score)
            except InvalidOperation:  # pragma: no cover - the pattern prevents it
                row.errors.append(f"score: “{score}” is not a score.")
    row.certificate_id = row.values.get("certificate_id", "")
    if len(row.certificate_id) > 100:
        row.errors.append("certificate_id: at most 100 characters.")


def _parse_day(row: TrainingRow, today: date) -> None:
    given = row.values.get("completed_on", "")
    if not given:
        row.errors.append("completed_on: this column is required.")
        return
    try:
        if not _DAY.match(given):
            raise ValueError(given)
        day = date.fromisoformat(given)
    except ValueError:
        row.errors.append(f"completed_on: “{given}” is not a date; write it as YYYY-MM-DD.")
        return
    if day > today:
        row.errors.append(f"completed_on: {given} is in the future.")
        return
    row.completed_on = day


def _already_recorded(rows: list[TrainingRow]) -> None:
    """Rows whose person already has the achievement on that date (one query)."""
    keyed = [row for row in rows if row.key is not None]
    if not keyed:
        return
    found = (
        TrainingRecord.objects.filter(
            membership_id__in={row.key[0] for row in keyed if row.key},
            completed_on__in={row.completed_on for row in keyed},
        )
        .exclude(status=TrainingRecord.Status.REJECTED)
        .values_list("membership_id", "course_id", "certification_id", "completed_on", "status")
    )
    recorded: dict[tuple[Any, str, Any, date], str] = {}
    for membership_id, course_id, certification_id, day, status in found:
        kind, pk = ("course", course_id) if course_id else ("certification", certification_id)
        recorded[(membership_id, kind, pk, day)] = status
    for row in keyed:
        found_status = recorded.get(row.key) if row.key else None
        if found_status is None:
            continue
        assert row.person is not None and row.completed_on is not None
        how = (
            "waits for confirmation"
            if found_status == TrainingRecord.Status.PENDING
            else "is recorded"
        )
        row.errors.append(
            f"{row.person.user.email} already has {row.achievement} on "
            f"{fmt.day(row.completed_on)}: it {how}."
        )


def import_training(tenant: Tenant, text: str, *, by: Membership) -> TrainingImportResult:
    """Check the file again, then record every row in one transaction, or
    none: a refusal of any row (a record made meanwhile) rolls all back and
    is reported on its row."""
    return _record_all(tenant, parse_training_csv(tenant, text), by=by, data={})


def import_training_rows(
    tenant: Tenant, rows: Sequence[Mapping[str, str]], *, by: Membership
) -> TrainingImportResult:
    """``import_training`` for a batch of rows given as mappings (the REST
    API's import): checked as ``parse_training_rows`` checks them, then all
    recorded or none. Each imported row holds its ``record``."""
    return _record_all(tenant, parse_training_rows(tenant, rows), by=by, data={"via": "api"})


def _record_all(
    tenant: Tenant, result: TrainingImportResult, *, by: Membership, data: dict[str, Any]
) -> TrainingImportResult:
    if not result.ok:
        return result
    try:
        with transaction.atomic(), batch(tenant, training.EARNED):
            for row in result.rows:
                assert row.person is not None and row.achievement is not None
                assert row.completed_on is not None
                try:
                    row.record = training.record(
                        person=row.person,
                        achievement=row.achievement,
                        completed_on=row.completed_on,
                        by=by,
                        score=row.score,
                        certificate_id=row.certificate_id,
                        source=TrainingRecord.Source.IMPORT,
                    )
                except OnboardingError as error:
                    row.errors.append(str(error))
                    raise
                result.created += 1
            audit(
                tenant,
                by=by.user,
                action="onboarding.training_imported",
                obj=tenant,
                data={"rows": result.created, **data},
            )
    except OnboardingError:
        result.created = 0
        for row in result.rows:
            row.record = None
        result.errors.append("Nothing was imported: a row was refused (see below).")
    return result


__all__ = [
    "CSV_COLUMNS",
    "REQUIRED_COLUMNS",
    "TrainingImportResult",
    "TrainingRow",
    "import_training",
    "import_training_rows",
    "parse_training_csv",
    "parse_training_rows",
]
