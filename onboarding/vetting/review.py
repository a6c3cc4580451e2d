"""Reviewing an application: the checklist, notes, a question to the
applicant, and turning it down."""

from datetime import datetime

from django.db import IntegrityError, transaction

from prm import format as fmt
from prm.tenancy.models import Membership
from prm.tenancy.services import audit, finish_tasks
from prm.webhooks.events import emit

from .. import mail
from ..errors import OnboardingError
from ..models import Application, ApplicationCheck, ApplicationEvent, VettingCheck
from ..models.applications import new_token
from ..representations import application_data
from .access import (
    DECIDE,
    NOTE_PERM,
    copy_back,
    event,
    lock,
    require_decider,
    require_status,
    resolve_now,
)

Status = Application.Status
Kind = ApplicationEvent.Kind

MAX_QUESTION = 2000
MAX_REASON = 2000
MAX_NOTE = 4000


def missing_checks(application: Application) -> list[VettingCheck]:
    """The required, active checks not ticked on the application."""
    ticked = ApplicationCheck.objects.filter(application=application).values("check_item_id")
    return list(
        VettingCheck.objects.filter(is_active=True, required=True)
        .exclude(pk__in=ticked)
        .order_by("position", "name")
    )


def _clean(text: str, limit: int, field: str, empty: str) -> str:
    text = (text or "").strip()
    if not text:
        raise OnboardingError(empty, field)
    if len(text) > limit:
        raise OnboardingError(f"Keep it under {fmt.number(limit)} characters.", field)
    return text


def _checklist_item(application: Application, check: VettingCheck) -> VettingCheck:
    if check.tenant_id != application.tenant_id or not check.is_active:
        raise OnboardingError("This check is not on the checklist.", "check")
    return check


def _optional_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > 300:
        raise OnboardingError("Keep the note under 300 characters.", "note")
    return note


def _record_check(
    locked: Application,
    check: VettingCheck,
    *,
    by: Membership,
    note: str,
    now: datetime,
    ticked: bool,
) -> None:
    """The timeline line and audit entry of a tick or an untick."""
    message = check.name + (f": {note}" if note else "")
    event(locked, Kind.CHECKED if ticked else Kind.UNCHECKED, now, by=by.user, message=message)
    audit(
        locked.tenant,
        by=by.user,
        action=f"onboarding.application_check_{'ticked' if ticked else 'unticked'}",
        obj=locked,
        data={"check": check.name, "note": note},
        now=now,
    )


def tick_check(
    application: Application,
    check: VettingCheck,
    *,
    by: Membership,
    note: str = "",
    now: datetime | None = None,
) -> ApplicationCheck:
    """Tick ``check`` on the application, with an optional note."""
    now = resolve_now(now)
    note = _optional_note(note)
    _checklist_item(application, check)
    with transaction.atomic():
        locked = lock(application)
        require_decider(by, locked)
        require_status(locked, Application.OPEN, "vetted")
        done = (
            ApplicationCheck.objects.select_related("done_by")
            .filter(application=locked, check_item=check)
            .first()
        )
        if done is not None:
            raise OnboardingError(
                f"“{check.name}” was ticked already by {done.done_by}, {fmt.moment(done.done_at)}.",
                "check",
            )
        try:
            with transaction.atomic():
                row = ApplicationCheck.objects.create(
                    tenant_id=locked.tenant_id,
                    application=locked,
                    check_item=check,
                    done_by=by.user,
                    done_at=now,
                    note=note,
                )
        except IntegrityError as exc:  # ticked a moment ago by someone else
            raise OnboardingError(f"“{check.name}” was just ticked.", "check") from exc
        _record_check(locked, check, by=by, note=note, now=now, ticked=True)
    return row


def untick_check(
    application: Application,
    check: VettingCheck,
    *,
    by: Membership,
    note: str = "",
    now: datetime | None = None,
) -> None:
    """Undo a tick (a check that turned out wrong), saying why."""
    now = resolve_now(now)
    note = _optional_note(note)
    if check.tenant_id != application.tenant_id:
        raise OnboardingError("This check is not on the checklist.", "check")
    with transaction.atomic():
        locked = lock(application)
        require_decider(by, locked)
        require_status(locked, Application.OPEN, "vetted")
        deleted, _ = ApplicationCheck.objects.filter(application=locked, check_item=check).delete()
        if not deleted:
            raise OnboardingError(f"“{check.name}” is not ticked.", "check")
        _record_check(locked, check, by=by, note=note, now=now, ticked=False)


def add_note(
    application: Application, *, by: Membership, text: str, now: datetime | None = None
) -> ApplicationEvent:
    """An internal note on the application's timeline (any reviewer)."""
    now = resolve_now(now)
    text = _clean(text, MAX_NOTE, "text", "Write the note.")
    if not by.is_active or not by.has_perm(NOTE_PERM):
        raise OnboardingError("Only ops and channel managers can add notes to applications.")
    with transaction.atomic():
        note = event(application, Kind.NOTE, now, by=by.user, message=text)
        audit(
            application.tenant,
            by=by.user,
            action="onboarding.application_note",
            obj=application,
            now=now,
        )
    return note


# --- Questions and decisions --------------------------------------------------------------


def request_info(
    application: Application, *, by: Membership, question: str, now: datetime | None = None
) -> Application:
    """Ask the applicant a question: mailed with a link to answer it (only
    the link's hash is kept); the decision clock stops until they answer."""
    now = resolve_now(now)
    question = _clean(question, MAX_QUESTION, "question", "Write the question for the applicant.")
    with transaction.atomic():
        locked = lock(application)
        require_decider(by, locked)
        require_status(locked, (Status.SUBMITTED,), "sent a question")
        token, token_hash = new_token()
        locked.status = Status.MORE_INFO
        locked.info_request = question
        locked.info_token_hash = token_hash
        locked.info_requested_at = now
        locked.next_check_at = None
        locked.save(
            update_fields=[
                "status",
                "info_request",
                "info_token_hash",
                "info_requested_at",
                "next_check_at",
            ]
        )
        event(locked, Kind.INFO_REQUESTED, now, by=by.user, message=question)
        audit(
            locked.tenant,
            by=by.user,
            action="onboarding.application_info_requested",
            obj=locked,
            now=now,
        )
        mail.to_applicant(locked, "info_requested", token=token)
        finish_tasks(locked, DECIDE, now=now)
    return copy_back(locked, application)


def reject(
    application: Application, *, by: Membership, reason: str, now: datetime | None = None
) -> Application:
    """Turn the application down; the applicant is mailed the reason."""
    now = resolve_now(now)
    reason = _clean(reason, MAX_REASON, "reason", "Give the applicant a reason.")
    with transaction.atomic():
        locked = lock(application)
        require_decider(by, locked)
        require_status(locked, Application.OPEN, "rejected")
        locked.status = Status.REJECTED
        locked.decided_at = now
        locked.decided_by = by.user
        locked.decision_reason = reason
        locked.next_check_at = None
        locked.info_token_hash = ""  # a pending question's link answers no more
        locked.save(
            update_fields=[
                "status",
                "decided_at",
                "decided_by",
                "decision_reason",
                "next_check_at",
                "info_token_hash",
            ]
        )
        event(locked, Kind.REJECTED, now, by=by.user, message=reason)
        audit(
            locked.tenant,
            by=by.user,
            action="onboarding.application_rejected",
            obj=locked,
            data={"reason": reason},
            now=now,
        )
        mail.to_applicant(locked, "rejected")
        finish_tasks(locked, DECIDE, now=now)
        emit(locked.tenant, "application.rejected", application_data(locked), now=now)
    return copy_back(locked, application)
