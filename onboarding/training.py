"""Training records: who at a partner completed which course or earned
which certification, and when it stops counting.

Three ways in, one record each: staff enter it (confirmed at once), a
learning system's CSV export is imported (confirmed at once; see
``training_import``), or the person reports it with the certificate, which
staff then confirm or reject. A confirmed course or certification completes
the matching training steps of the partner's onboarding plan (by code)."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from prm.tenancy.models import Membership
from prm.tenancy.roles import Role
from prm.tenancy.services import audit

from . import plans
from .announce import announce
from .errors import OnboardingError
from .models import Certification, Course, TrainingRecord, valid_on
from .plan_documents import ACCEPTED
from .plan_documents import check as check_document
from .plans import resolve_now
from .representations import training_record_data
from .signals import training_confirmed

Status = TrainingRecord.Status
Source = TrainingRecord.Source

CONFIRM_PERM = "onboarding.change_trainingrecord"
# The webhook event of a confirmed certification.
EARNED = "certification.earned"


def _require_person(person: Membership) -> Any:
    """The person's partner id; refused for anyone not active at a partner."""
    if not person.is_active or person.partner_id is None:
        raise OnboardingError(
            "Training is recorded for people of a partner with an active account.", "person"
        )
    return person.partner_id


def _require_day(completed_on: date, today: date) -> None:
    if completed_on > today:
        raise OnboardingError("The date cannot be in the future.", "completed_on")


def _achievement(record: TrainingRecord, achievement: Course | Certification) -> None:
    if isinstance(achievement, Course):
        record.course = achievement
    else:
        record.certification = achievement
        record.expires_on = achievement.expiry_for(record.completed_on)
    if not achievement.is_active:
        raise OnboardingError(f"{achievement} is no longer offered.", "achievement")


def _save_new(record: TrainingRecord) -> TrainingRecord:
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError as exc:
        raise OnboardingError(
            f"{record.membership.user} already has {record.achievement} "
            f"recorded on {record.completed_on}.",
            "completed_on",
        ) from exc
    return record


def _after_confirmed(record: TrainingRecord) -> None:
    """A confirmed record completes the plan's training steps for its code;
    a confirmed certification is announced (``certification.earned``)."""
    achievement = record.achievement
    assert achievement is not None  # a check constraint: a course or a certification
    if record.certification_id is not None:
        announce(record.tenant, EARNED, lambda: training_record_data(record))
    plans.record_course_completed(
        record.partner,
        achievement.code,
        at=record.decided_at or record.recorded_at,
        evidence=f"{achievement.code} by {record.membership.user}",
    )
    transaction.on_commit(lambda: training_confirmed.send(sender=TrainingRecord, record=record))


def record(
    *,
    person: Membership,
    achievement: Course | Certification,
    completed_on: date,
    by: Membership,
    score: Decimal | None = None,
    certificate_id: str = "",
    note: str = "",
    source: str = Source.STAFF,
    now: datetime | None = None,
) -> TrainingRecord:
    """Staff record a completed course or earned certification (confirmed)."""
    now = resolve_now(now)
    if not by.is_staff_role or not by.has_perm(CONFIRM_PERM):
        raise OnboardingError("Only the vendor's staff record training.")
    partner_id = _require_person(person)
    _require_day(completed_on, person.tenant.local_today(now))
    with transaction.atomic():
        row = TrainingRecord(
            tenant=person.tenant,
            partner_id=partner_id,
            membership=person,
            completed_on=completed_on,
            score=score,
            certificate_id=certificate_id.strip()[:100],
            note=note.strip()[:300],
            source=source,
            status=Status.CONFIRMED,
            recorded_by=by.user,
            recorded_at=now,
            decided_by=by.user,
            decided_at=now,
        )
        _achievement(row, achievement)
        _save_new(row)
        audit(person.tenant, by=by.user, action="onboarding.training_recorded", obj=row, now=now)
        _after_confirmed(row)
    return row


def may_report_for(by: Membership, person: Membership) -> bool:
    """A person reports their own training; a partner admin, a colleague's."""
    if not by.is_partner_role or by.partner_id != person.partner_id:
        return False
    return by.pk == person.pk or by.role == Role.PARTNER_ADMIN


def report(
    *,
    person: Membership,
    achievement: Course | Certification,
    completed_on: date,
    by: Membership,
    certificate: UploadedFile,
    certificate_id: str = "",
    score: Decimal | None = None,
    now: datetime | None = None,
) -> TrainingRecord:
    """A partner's person reports a course or certification with its
    certificate (PDF, PNG or JPEG, checked like MDF proofs): it waits for
    staff to confirm it."""
    now = resolve_now(now)
    if not may_report_for(by, person):
        raise OnboardingError("You report your own training, or a colleague's as partner admin.")
    partner_id = _require_person(person)
    _require_day(completed_on, person.tenant.local_today(now))
    checked = check_document(certificate)
    with transaction.atomic():
        row = TrainingRecord(
            tenant=person.tenant,
            partner_id=partner_id,
            membership=person,
            completed_on=completed_on,
            score=score,
            certificate_id=certificate_id.strip()[:100],
            source=Source.SELF,
            status=Status.PENDING,
            recorded_by=by.user,
            recorded_at=now,
            evidence_name=checked.name,
            evidence_type=checked.content_type,
        )
        _achievement(row, achievement)
        checked.file.seek(0)
        row.evidence.save(f"certificate{ACCEPTED[checked.content_type]}", checked.file, save=False)
        try:
            _save_new(row)
        except OnboardingError:
            row.evidence.delete(save=False)
            raise
        audit(person.tenant, by=by.user, action="onboarding.training_reported", obj=row, now=now)
    return row


def _lock_pending(row: TrainingRecord) -> TrainingRecord:
    locked = TrainingRecord.objects.select_for_update().get(pk=row.pk)
    if locked.status != Status.PENDING:
        raise OnboardingError(f"This record is already {locked.get_status_display().lower()}.")
    return locked


def confirm(row: TrainingRecord, *, by: Membership, now: datetime | None = None) -> TrainingRecord:
    """Staff confirm a reported record: from now it counts."""
    now = resolve_now(now)
    if not by.is_staff_role or not by.has_perm(CONFIRM_PERM):
        raise OnboardingError("Only the vendor's staff confirm training.")
    with transaction.atomic():
        locked = _lock_pending(row)
        locked.status = Status.CONFIRMED
        locked.decided_by = by.user
        locked.decided_at = now
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        audit(
            locked.tenant, by=by.user, action="onboarding.training_confirmed", obj=locked, now=now
        )
        _after_confirmed(locked)
    return locked


def reject(
    row: TrainingRecord, *, by: Membership, reason: str, now: datetime | None = None
) -> TrainingRecord:
    """Staff reject a reported record, saying why (the person may report again)."""
    now = resolve_now(now)
    if not by.is_staff_role or not by.has_perm(CONFIRM_PERM):
        raise OnboardingError("Only the vendor's staff decide on training records.")
    if not reason.strip():
        raise OnboardingError("Say why it is not confirmed.", "reason")
    with transaction.atomic():
        locked = _lock_pending(row)
        locked.status = Status.REJECTED
        locked.decided_by = by.user
        locked.decided_at = now
        locked.note = reason.strip()[:300]
        locked.save(update_fields=["status", "decided_by", "decided_at", "note"])
        audit(
            locked.tenant,
            by=by.user,
            action="onboarding.training_rejected",
            obj=locked,
            data={"reason": locked.note},
            now=now,
        )
    return locked


# --- Reading ------------------------------------------------------------------------


def counting(day: date) -> QuerySet[TrainingRecord]:
    """Records that count on ``day``."""
    return TrainingRecord.objects.filter(valid_on(day))


@dataclass(frozen=True)
class Holders:
    """How many people of a partner hold a certification on a day."""

    certification: Certification
    people: int


def certified_people(partner_ids: Any, certification: Certification, day: date) -> dict[Any, int]:
    """Partner id → the number of its people holding ``certification`` on
    ``day`` (one query; active people only)."""
    rows = (
        counting(day)
        .filter(
            partner_id__in=partner_ids,
            certification=certification,
            membership__is_active=True,
        )
        .values("partner_id")
        .annotate(people=Count("membership_id", distinct=True))
    )
    return {row["partner_id"]: row["people"] for row in rows}


def expiring(day: date, until: date) -> QuerySet[TrainingRecord]:
    """Confirmed certifications that stop counting after ``day`` and by ``until``."""
    return TrainingRecord.objects.filter(
        Q(certification__isnull=False, status=Status.CONFIRMED),
        expires_on__gt=day,
        expires_on__lte=until,
    )
