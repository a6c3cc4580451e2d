"""Documents a partner uploads for a plan's document steps (a tax form, an
insurance certificate): checked by the same rules as MDF proofs
(``mdf.uploads.check_upload``: the content decides what a file is, sizes
are capped), of a kind a person opens safely (PDF, PNG or JPEG), stored
under a random name through the ``proofs`` storage, and served only by
``views_plans.step_document`` to the partner's people and staff.

An upload completes its step, with the file's name as the evidence. A
newer upload replaces the document and keeps the step done (its time of
completion stays the first upload's); the same file sent twice changes
nothing."""

from datetime import datetime

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from mdf import uploads
from mdf.errors import MdfError
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role
from prm.tenancy.services import audit

from .errors import OnboardingError
from .models import Plan, PlanStep, StepKind
from .plans import complete_step, resolve_now

FIELD = "document"
# What a document may be: what its step's reader opens without risk.
ACCEPTED = {uploads.PDF: ".pdf", uploads.PNG: ".png", uploads.JPEG: ".jpg"}
ACCEPTED_TEXT = "a PDF, PNG or JPEG file"


def may_upload(by: Membership, step: PlanStep) -> bool:
    """The partner's admins upload their organisation's documents, while
    the plan runs or after it completed (to replace an outdated one)."""
    return (
        step.kind == StepKind.DOCUMENT
        and by.role == Role.PARTNER_ADMIN
        and by.partner_id == step.plan.partner_id
        and step.plan.status != Plan.Status.CANCELLED
    )


def check(file: UploadedFile) -> uploads.Checked:
    """``file`` checked like an MDF proof, and of an accepted kind;
    ``OnboardingError`` on ``document`` naming the file otherwise."""
    try:
        checked = uploads.check_upload(file)
    except MdfError as exc:
        raise OnboardingError(
            exc.message.replace(uploads.ALLOWED, ACCEPTED_TEXT), field=FIELD
        ) from None
    if checked.content_type not in ACCEPTED:
        raise OnboardingError(
            f"{checked.name} is not {ACCEPTED_TEXT} (its content is {checked.kind}).",
            field=FIELD,
        )
    return checked


def upload(
    step: PlanStep, file: UploadedFile, *, by: Membership, now: datetime | None = None
) -> PlanStep:
    """Store ``file`` as ``step``'s document and complete the step (if it
    was open). The previous document, if any, is deleted once this one is
    committed; if anything fails the new file is deleted again."""
    now = resolve_now(now)
    checked = check(file)
    with transaction.atomic():
        step = (
            PlanStep.objects.select_for_update(of=("self",))
            .select_related("plan__partner")
            .get(pk=step.pk)
        )
        if not may_upload(by, step):
            raise OnboardingError(
                "Only a partner admin of this organisation uploads its onboarding documents.",
                field=FIELD,
            )
        if step.document and step.document_sha256 == checked.sha256:
            return step  # the same file again (a form sent twice): nothing changes
        old_name = step.document.name if step.document else ""
        step.document_type = checked.content_type
        checked.file.seek(0)
        # The name is a hint only: document_path picks a random one.
        step.document.save(f"document{ACCEPTED[checked.content_type]}", checked.file, save=False)
        try:
            with transaction.atomic():
                step.document_original_name = checked.name
                step.document_size = checked.size
                step.document_sha256 = checked.sha256
                step.save(
                    update_fields=[
                        "document",
                        "document_original_name",
                        "document_type",
                        "document_size",
                        "document_sha256",
                    ]
                )
                replaced = step.completed_at is not None
                if replaced:
                    step.evidence = checked.name[:200]
                    step.save(update_fields=["evidence"])
                else:
                    complete_step(
                        step,
                        at=now,
                        by=by.user,
                        source=PlanStep.Source.AUTOMATIC,
                        evidence=checked.name,
                        now=now,
                    )
                audit(
                    step.tenant,
                    by=by.user,
                    action="onboarding.document_replaced"
                    if replaced
                    else "onboarding.document_uploaded",
                    obj=step,
                    data={"file": checked.name, "sha256": checked.sha256, "size": checked.size},
                    now=now,
                )
        except Exception:
            step.document.storage.delete(step.document.name)
            raise
        if old_name:
            storage = step.document.storage
            transaction.on_commit(lambda: storage.delete(old_name))
    return step
