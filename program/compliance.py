"""Compliance reviews: opening a partner's review, the partner admin's
answers (custom items attested or with a file, the tax document),
submitting it, and the channel manager's (or ops') sign-off or return.

The partner admin completes their part: every active custom item answered
and, when the policy asks for it, the tax document uploaded; the agreements
and the company profile must be in order too, since the partner fixes both
at once in the portal. A certification shortfall does not stop the
submission (certifying people takes weeks): it is recorded with the
automatic items' state in ``checks`` and shown to the reviewer, who signs
off or returns the review.

A partner is **out of compliance** while a review of it is unfinished past
its due date (``overdue_q``), whoever it waits for.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from mdf import uploads
from mdf.errors import MdfError
from onboarding.agreement_sweeps import partner_admins
from partners.models import Partner
from prm import format as fmt
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, finish_tasks, notify, staff_with_role
from prm.webhooks.events import emit

from . import compliance_checks as checks
from .errors import ProgramError
from .models import ComplianceAnswer, ComplianceItem, ComplianceReview, ComplianceSettings
from .representations import compliance_review_data

Status = ComplianceReview.Status
Kind = ComplianceItem.Kind
PORTAL_PERM = "portal.compliance"
COMPLETE_PERM = "portal.compliance_complete"
DECIDE_PERM = "program.change_compliancereview"
SIGN_OFF = "program.sign_off_compliance"

OPENED = "program.compliance_opened"
SUBMITTED = "program.compliance_submitted"
DECIDED = "program.compliance_decided"

FILE = "file"
ACCEPTED = {uploads.PDF: ".pdf", uploads.PNG: ".png", uploads.JPEG: ".jpg"}
ACCEPTED_TEXT = "a PDF, PNG or JPEG file"


def resolve_now(now: datetime | None) -> datetime:
    return now or timezone.now()


def overdue_q(day: date, prefix: str = "") -> Q:
    """Reviews unfinished past their due date on ``day``."""
    return Q(
        **{
            f"{prefix}status__in": ComplianceReview.UNFINISHED,
            f"{prefix}due_on__lt": day,
        }
    )


def portal_url() -> str:
    return reverse("program:compliance")


def add_months(day: date, months: int) -> date:
    """``day`` ``months`` later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def current(partner: Partner) -> ComplianceReview | None:
    """The partner's latest review."""
    return (
        ComplianceReview.objects.filter(partner=partner)
        .select_related("partner__tier", "partner__tenant", "partner__channel_manager")
        .order_by("-opens_on")
        .first()
    )


# --- Opening -----------------------------------------------------------------------------


def open_review(
    partner: Partner, *, opens_on: date, policy: ComplianceSettings, now: datetime | None = None
) -> ComplianceReview | None:
    """Open ``partner``'s review of the period starting ``opens_on`` (None
    when it has one for that period or an unfinished one: the database
    refuses a second, so two sweeps open it once) and tell its admins."""
    now = resolve_now(now)
    try:
        with transaction.atomic():
            review = ComplianceReview.objects.create(
                tenant=partner.tenant,
                partner=partner,
                opens_on=opens_on,
                due_on=opens_on + timedelta(days=policy.complete_within_days),
                created_at=now,
            )
    except IntegrityError:
        return None
    audit(partner.tenant, by=None, action="program.compliance_opened", obj=review, now=now)
    notify(
        partner.tenant,
        partner_admins([partner.pk]).get(partner.pk, []),
        kind=OPENED,
        title=f"Your compliance review is open: complete it by {fmt.day(review.due_on)}",
        body="Confirm your agreements, certifications, company profile and documents are "
        "current, then submit the review to your channel manager.",
        url=portal_url(),
        about=review,
    )
    return review


# --- The partner's answers -------------------------------------------------------------


def _editable(review: ComplianceReview, by: Membership) -> ComplianceReview:
    """The review locked, if ``by`` may change it (a partner admin of its
    partner, while it is open or returned)."""
    locked = (
        ComplianceReview.objects.select_for_update(of=("self",))
        .select_related("partner__tenant", "partner__tier")
        .get(pk=review.pk)
    )
    if by.role != Role.PARTNER_ADMIN or by.partner_id != locked.partner_id:
        raise ProgramError("Only a partner admin of this organisation completes its review.")
    if not locked.editable:
        raise ProgramError(
            f"This review is {locked.get_status_display().lower()}: it can no longer be changed."
        )
    return locked


def check_file(file: UploadedFile, field: str = FILE) -> uploads.Checked:
    """``file`` checked like an MDF proof (the content decides; sizes are
    capped) and of an accepted kind; ``ProgramError`` on ``field`` otherwise."""
    try:
        checked = uploads.check_upload(file)
    except MdfError as exc:
        raise ProgramError(
            exc.message.replace(uploads.ALLOWED, ACCEPTED_TEXT), field=field
        ) from None
    if checked.content_type not in ACCEPTED:
        raise ProgramError(
            f"{checked.name} is not {ACCEPTED_TEXT} (its content is {checked.kind}).", field=field
        )
    return checked


def _store(row: Any, checked: uploads.Checked) -> list[str]:
    """Put the checked file on ``row`` (not saved); the fields to save."""
    row.file_type = checked.content_type
    checked.file.seek(0)
    # The name is a hint only: the upload path picks a random one.
    row.file.save(f"file{ACCEPTED[checked.content_type]}", checked.file, save=False)
    row.file_name, row.file_size, row.file_sha256 = checked.name, checked.size, checked.sha256
    return ["file", "file_name", "file_type", "file_size", "file_sha256"]


def _replace_later(old_name: str, storage: Any) -> None:
    if old_name:
        transaction.on_commit(lambda: storage.delete(old_name))


def upload_tax_document(
    review: ComplianceReview, file: UploadedFile, *, by: Membership, now: datetime | None = None
) -> ComplianceReview:
    """Store ``file`` as the review's tax document (replacing an earlier one)."""
    now = resolve_now(now)
    checked = check_file(file)
    with transaction.atomic():
        locked = _editable(review, by)
        if locked.file and locked.file_sha256 == checked.sha256:
            return locked  # the same file again: nothing changes
        old = locked.file.name if locked.file else ""
        fields = _store(locked, checked)
        try:
            with transaction.atomic():
                locked.save(update_fields=fields)
                audit(
                    locked.tenant,
                    by=by.user,
                    action="program.compliance_tax_document",
                    obj=locked,
                    data={"file": checked.name, "sha256": checked.sha256, "size": checked.size},
                    now=now,
                )
        except Exception:
            locked.file.storage.delete(locked.file.name)
            raise
        _replace_later(old, locked.file.storage)
    return locked


def _item(item: ComplianceItem, kind: str) -> None:
    if not item.is_active:
        raise ProgramError("This item is no longer asked for.")
    if item.kind != kind:
        raise ProgramError(
            "This item asks for a file." if item.kind == Kind.FILE else "This item is attested."
        )


def attest(
    review: ComplianceReview,
    item: ComplianceItem,
    *,
    by: Membership,
    name: str,
    now: datetime | None = None,
) -> ComplianceAnswer:
    """``by`` attests ``item`` under ``name`` (their name as they sign)."""
    now = resolve_now(now)
    name = " ".join(name.split())
    if not name:
        raise ProgramError("Type your name to attest this item.", field="name")
    if len(name) > 120:
        raise ProgramError("A name is at most 120 characters.", field="name")
    _item(item, Kind.ATTESTATION)
    with transaction.atomic():
        locked = _editable(review, by)
        answer, _ = ComplianceAnswer.objects.update_or_create(
            review=locked,
            item=item,
            defaults={
                "tenant": locked.tenant,
                "label": item.label,
                "attested_name": name,
                "answered_by": by.user,
                "answered_at": now,
            },
        )
        audit(
            locked.tenant,
            by=by.user,
            action="program.compliance_attested",
            obj=locked,
            data={"item": item.label, "name": name},
            now=now,
        )
    return answer


def upload_answer(
    review: ComplianceReview,
    item: ComplianceItem,
    file: UploadedFile,
    *,
    by: Membership,
    now: datetime | None = None,
) -> ComplianceAnswer:
    """Store ``file`` as the answer to a file item (replacing an earlier one)."""
    now = resolve_now(now)
    _item(item, Kind.FILE)
    checked = check_file(file)
    with transaction.atomic():
        locked = _editable(review, by)
        answer = ComplianceAnswer.objects.filter(review=locked, item=item).first()
        if answer is not None and answer.file and answer.file_sha256 == checked.sha256:
            return answer
        answer = answer or ComplianceAnswer(tenant=locked.tenant, review=locked, item=item)
        old = answer.file.name if answer.file else ""
        _store(answer, checked)
        answer.label, answer.answered_by, answer.answered_at = item.label, by.user, now
        try:
            with transaction.atomic():
                answer.save()
                audit(
                    locked.tenant,
                    by=by.user,
                    action="program.compliance_file",
                    obj=locked,
                    data={"item": item.label, "file": checked.name, "sha256": checked.sha256},
                    now=now,
                )
        except Exception:
            answer.file.storage.delete(answer.file.name)
            raise
        _replace_later(old, answer.file.storage)
    return answer


def missing(review: ComplianceReview, day: date) -> list[str]:
    """What stops the partner admin from submitting (empty: nothing)."""
    found = [
        f"{c.label}: {c.detail}"
        for c in checks.automatic(review, day)
        if not c.met and c.key != checks.CERTIFICATIONS
    ]
    answered = set(review.answers.values_list("item_id", flat=True))
    for item in ComplianceItem.objects.filter(is_active=True).exclude(pk__in=answered):
        found.append(
            f"{item.label}: {'upload the file' if item.kind == Kind.FILE else 'attest it'}"
        )
    return found


def reviewers(partner: Partner) -> list[User]:
    """Who signs off a partner's review: its channel manager, else ops."""
    if partner.channel_manager_id and partner.channel_manager:
        return [partner.channel_manager]
    return staff_with_role(Role.OPS_ADMIN)


def submit(
    review: ComplianceReview, *, by: Membership, now: datetime | None = None
) -> ComplianceReview:
    """The partner admin submits the review for sign-off. Submitting a
    review already submitted changes nothing (a form sent twice)."""
    now = resolve_now(now)
    with transaction.atomic():
        locked = (
            ComplianceReview.objects.select_for_update(of=("self",))
            .select_related("partner__tenant", "partner__tier", "partner__channel_manager")
            .get(pk=review.pk)
        )
        if locked.status == Status.SUBMITTED and by.partner_id == locked.partner_id:
            return locked
        locked = _editable(locked, by)
        day = locked.partner.tenant.local_today(now)
        todo = missing(locked, day)
        if todo:
            raise ProgramError("Not ready to submit. Still to do: " + "; ".join(todo) + ".")
        locked.checks = checks.snapshot(checks.automatic(locked, day))
        locked.status, locked.submitted_by, locked.submitted_at = Status.SUBMITTED, by.user, now
        locked.save(update_fields=["checks", "status", "submitted_by", "submitted_at"])
        audit(locked.tenant, by=by.user, action="program.compliance_submitted", obj=locked, now=now)
        partner = locked.partner
        notify(
            locked.tenant,
            reviewers(partner),
            kind=SUBMITTED,
            title=f"{partner.name} submitted its compliance review",
            body=f"Due {fmt.day(locked.due_on)}. Sign it off or return it with a reason.",
            url=reverse("tenant_admin:program_compliancereview_change", args=[locked.pk]),
            about=locked,
            task=SIGN_OFF,
        )
        emit(locked.tenant, "compliance_review.submitted", compliance_review_data(locked), now=now)
    return locked


# --- The reviewer's decision -----------------------------------------------------------


def _decidable(review: ComplianceReview, by: Membership) -> ComplianceReview:
    locked = (
        ComplianceReview.objects.select_for_update(of=("self",))
        .select_related("partner")
        .get(pk=review.pk)
    )
    if not by.has_perm(DECIDE_PERM, locked.partner):
        raise ProgramError("Only the partner's channel manager or ops decide on its review.")
    if locked.status != Status.SUBMITTED:
        raise ProgramError(
            f"This review is {locked.get_status_display().lower()}: only a submitted review "
            "is signed off or returned."
        )
    return locked


def _tell_partner(review: ComplianceReview, title: str, body: str) -> None:
    notify(
        review.tenant,
        partner_admins([review.partner_id]).get(review.partner_id, []),
        kind=DECIDED,
        title=title,
        body=body,
        url=portal_url(),
        about=review,
    )


def sign_off(
    review: ComplianceReview, *, by: Membership, note: str = "", now: datetime | None = None
) -> ComplianceReview:
    now = resolve_now(now)
    with transaction.atomic():
        locked = _decidable(review, by)
        locked.status, locked.signed_off_by, locked.signed_off_at = Status.SIGNED_OFF, by.user, now
        locked.note = note.strip()
        locked.save(update_fields=["status", "signed_off_by", "signed_off_at", "note"])
        audit(
            locked.tenant,
            by=by.user,
            action="program.compliance_signed_off",
            obj=locked,
            data={"note": locked.note},
            now=now,
        )
        finish_tasks(locked, SIGN_OFF, now=now)
        _tell_partner(
            locked,
            f"Your compliance review ({locked.period}) is signed off",
            locked.note or "Thank you: nothing more to do until the next review.",
        )
        emit(locked.tenant, "compliance_review.signed_off", compliance_review_data(locked), now=now)
    return locked


def return_review(
    review: ComplianceReview, *, by: Membership, reason: str, now: datetime | None = None
) -> ComplianceReview:
    """Send the review back to the partner with ``reason``; its due date
    stays (a returned review past it is overdue)."""
    now = resolve_now(now)
    reason = reason.strip()
    if not reason:
        raise ProgramError("Say what the partner must change.", field="reason")
    with transaction.atomic():
        locked = _decidable(review, by)
        locked.status, locked.returned_at, locked.note = Status.RETURNED, now, reason
        locked.save(update_fields=["status", "returned_at", "note"])
        audit(
            locked.tenant,
            by=by.user,
            action="program.compliance_returned",
            obj=locked,
            data={"reason": reason},
            now=now,
        )
        finish_tasks(locked, SIGN_OFF, now=now)
        _tell_partner(
            locked,
            f"Your compliance review ({locked.period}) was returned",
            f"{reason}\nChange what is asked and submit it again by {fmt.day(locked.due_on)}.",
        )
        emit(locked.tenant, "compliance_review.returned", compliance_review_data(locked), now=now)
    return locked
