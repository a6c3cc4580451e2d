"""Writing agreements: versions (added, changed while nobody accepted
them, deleted likewise) and a partner admin's acceptance.

A version's content is its Markdown text or a PDF, one or the other, set
when it is added; ``content_sha256`` is the SHA-256 of the text's UTF-8
or of the PDF's bytes. Once a partner accepted a version, its content,
dates and number are what that partner accepted: ``change_version``
refuses to touch them and ``delete_version`` refuses to delete it (add a
new version instead).

``accept`` records that a partner admin read, ticked and signed (typed
their name under) the current version of an agreement their organisation
must accept: once per version and partner (a second submit is told it was
already accepted), with the hash of exactly the content they were shown,
recomputed from what is stored. Their channel manager is told, and the
partner's onboarding plan ticks its agreement step after commit.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_ipv46_address
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from mdf import uploads
from mdf.errors import MdfError
from partners.models import Partner
from prm import format as fmt
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, notify, staff_with_role

from . import agreements, plans
from .errors import OnboardingError
from .models import Acceptance, Agreement, AgreementVersion

logger = logging.getLogger(__name__)

ADD = "onboarding.add_agreementversion"
CHANGE = "onboarding.change_agreementversion"
DELETE = "onboarding.delete_agreementversion"
# The acceptance report in the admin (admin_agreements).
REPORT = "tenant_admin:onboarding_acceptance_report"
MIN_NAME = 2
USER_AGENT_MAX = Acceptance._meta.get_field("user_agent").max_length or 300
TYPED_NAME_MAX = Acceptance._meta.get_field("typed_name").max_length or 200


class AlreadyAccepted(OnboardingError):
    """The partner accepted this version before (a form sent twice):
    ``acceptance`` is that acceptance."""

    def __init__(self, acceptance: Acceptance):
        when = fmt.moment(acceptance.accepted_at, acceptance.partner.tenant.tzinfo)
        super().__init__(
            f"{acceptance.partner.name} already accepted version {acceptance.version.number} "
            f"of {acceptance.version.agreement.title} ({acceptance.typed_name}, {when})."
        )
        self.acceptance = acceptance


# --- Content ---------------------------------------------------------------------------


def is_pdf(version: AgreementVersion) -> bool:
    return bool(version.pdf)


def content_of(version: AgreementVersion) -> bytes:
    """The bytes a version's hash is of: its PDF, else its text in UTF-8."""
    if is_pdf(version):
        with version.pdf.open("rb") as handle:
            return handle.read()
    return version.body.encode("utf-8")


def stored_hash(version: AgreementVersion) -> str:
    """The hash of the version's content as stored now ("" when its PDF
    cannot be read)."""
    try:
        return AgreementVersion.digest(content_of(version))
    except (FileNotFoundError, OSError):
        return ""


def _checked_pdf(upload: UploadedFile) -> uploads.Checked:
    """``upload`` if its content is a PDF within the upload size limit."""
    try:
        checked = uploads.check_upload(upload)
    except MdfError as error:
        raise OnboardingError(str(error).replace(uploads.ALLOWED, "a PDF"), field="pdf") from None
    if checked.content_type != uploads.PDF:
        raise OnboardingError(
            f"{checked.name} is a {checked.kind} file; upload the agreement as a PDF.", field="pdf"
        )
    return checked


@contextmanager
def _files_kept_on_success() -> Iterator[list[tuple[Storage, str]]]:
    """Files stored inside the block are deleted again if it fails (a file
    no version points at is never served, but need not stay either; one
    whose version an outer transaction rolls back stays unreferenced)."""
    stored: list[tuple[Storage, str]] = []
    try:
        yield stored
    except BaseException:
        for storage, name in stored:
            storage.delete(name)
        raise


def _put_pdf(
    version: AgreementVersion, checked: uploads.Checked, stored: list[tuple[Storage, str]]
) -> None:
    """Save the checked PDF through the agreements' storage under a random
    name (``agreement_pdf_path``); the version's hash is of its bytes."""
    checked.file.seek(0)
    version.pdf.save("agreement.pdf", checked.file, save=False)
    version.content_sha256 = checked.sha256
    stored.append((version.pdf.storage, version.pdf.name))


def _dates(effective_on: date, expires_on: date | None) -> None:
    if expires_on is not None and expires_on <= effective_on:
        raise OnboardingError(
            "A version expires after the day it takes effect: choose a later date, or none.",
            field="expires_on",
        )


def _text(body: str) -> str:
    """The Markdown as stored: line endings made uniform (a browser sends
    CRLF), so the hash does not depend on the browser."""
    return body.replace("\r\n", "\n").replace("\r", "\n").strip("\n")


# --- Versions --------------------------------------------------------------------------


def add_version(
    agreement: Agreement,
    *,
    by: Membership,
    effective_on: date,
    body: str = "",
    pdf: UploadedFile | None = None,
    expires_on: date | None = None,
    grace_days: int | None = None,
    change_summary: str = "",
    now: datetime | None = None,
) -> AgreementVersion:
    """Add the next version of ``agreement``: its text (Markdown) or a PDF,
    in force from ``effective_on`` (until ``expires_on``, if given)."""
    if not by.has_perm(ADD):
        raise OnboardingError("You may not add agreement versions.")
    now = now or timezone.now()
    body = _text(body)
    if body and pdf is not None:
        raise OnboardingError(
            "Write the text or upload a PDF, not both: a version is one document.", field="pdf"
        )
    if not body and pdf is None:
        raise OnboardingError("Write the agreement's text, or upload it as a PDF.", field="body")
    _dates(effective_on, expires_on)
    checked = _checked_pdf(pdf) if pdf is not None else None
    with _files_kept_on_success() as stored, transaction.atomic():
        locked = Agreement.objects.select_for_update().get(pk=agreement.pk)
        last = locked.versions.order_by("-number").first()
        if last is not None and effective_on < last.effective_on:
            raise OnboardingError(
                f"Version {last.number} takes effect on {fmt.day(last.effective_on)}: "
                "a new version cannot take effect before it.",
                field="effective_on",
            )
        version = AgreementVersion(
            tenant_id=agreement.tenant_id,
            agreement=locked,
            number=(last.number + 1) if last else 1,
            body=body,
            effective_on=effective_on,
            expires_on=expires_on,
            grace_days=grace_days,
            change_summary=change_summary.strip(),
            created_by=by.user,
            created_at=now,
        )
        if checked is not None:
            _put_pdf(version, checked, stored)
        else:
            version.content_sha256 = AgreementVersion.digest(body.encode("utf-8"))
        version.save()
        audit(
            by.tenant,
            by=by.user,
            action="onboarding.version_added",
            obj=version,
            data={
                "number": version.number,
                "content_sha256": version.content_sha256,
                "effective_on": str(effective_on),
                "expires_on": str(expires_on) if expires_on else None,
            },
            now=now,
        )
    return version


# Fields fixed once a version has been accepted, with what to call them.
FIXED = {
    "body": "text",
    "pdf": "PDF",
    "effective_on": "date it takes effect",
    "expires_on": "expiry date",
}


def change_version(
    version: AgreementVersion,
    *,
    by: Membership,
    effective_on: date,
    body: str | None = None,
    pdf: UploadedFile | None = None,
    expires_on: date | None = None,
    grace_days: int | None = None,
    change_summary: str = "",
    now: datetime | None = None,
) -> AgreementVersion:
    """Change a version. Its text (a text version) or PDF (a PDF version)
    and its dates only while nobody has accepted it; its days to accept
    and its summary of changes at any time."""
    if not by.has_perm(CHANGE):
        raise OnboardingError("You may not change agreement versions.")
    now = now or timezone.now()
    _dates(effective_on, expires_on)
    checked = _checked_pdf(pdf) if pdf is not None else None
    with _files_kept_on_success() as stored, transaction.atomic():
        version = (
            AgreementVersion.objects.select_for_update()
            .select_related("agreement")
            .get(pk=version.pk)
        )
        new_body = version.body if body is None or is_pdf(version) else _text(body)
        if is_pdf(version) and body:
            raise OnboardingError(
                "This version is a PDF: upload a new PDF to change it.", field="body"
            )
        if not is_pdf(version) and pdf is not None:
            raise OnboardingError(
                "This version is written as text: change its text (or add a new version as a PDF).",
                field="pdf",
            )
        if not is_pdf(version) and not new_body:
            raise OnboardingError("Write the agreement's text.", field="body")
        changes = {
            "body": new_body != version.body,
            "pdf": pdf is not None,
            "effective_on": effective_on != version.effective_on,
            "expires_on": expires_on != version.expires_on,
        }
        changed_fixed = [name for name, changed in changes.items() if changed]
        accepted = version.acceptances.count() if changed_fixed else 0
        if accepted:
            name = changed_fixed[0]
            raise OnboardingError(
                f"Version {version.number} of {version.agreement.title} has been accepted by "
                f"{fmt.plural(accepted, 'partner')}: its {FIXED[name]} can no longer change. "
                "Add a new version instead.",
                field=name,
            )
        if changes["effective_on"]:
            earlier = (
                version.agreement.versions.filter(number__lt=version.number)
                .order_by("-number")
                .first()
            )
            if earlier is not None and effective_on < earlier.effective_on:
                raise OnboardingError(
                    f"Version {earlier.number} takes effect on {fmt.day(earlier.effective_on)}: "
                    "this version cannot take effect before it.",
                    field="effective_on",
                )
        old_pdf = version.pdf.name if changes["pdf"] else ""
        if checked is not None:
            _put_pdf(version, checked, stored)
        elif changes["body"]:
            version.content_sha256 = AgreementVersion.digest(new_body.encode("utf-8"))
        data = {
            name: str(value)
            for name, value in (
                ("body", "changed" if changes["body"] else None),
                ("pdf", "replaced" if changes["pdf"] else None),
                ("effective_on", effective_on if changes["effective_on"] else None),
                ("expires_on", expires_on if changes["expires_on"] else None),
                ("grace_days", grace_days if grace_days != version.grace_days else None),
                (
                    "change_summary",
                    "changed" if change_summary.strip() != version.change_summary else None,
                ),
            )
            if value is not None
        }
        version.body = new_body
        version.effective_on = effective_on
        version.expires_on = expires_on
        version.grace_days = grace_days
        version.change_summary = change_summary.strip()
        version.save()
        if data:
            data["content_sha256"] = version.content_sha256
            audit(
                by.tenant,
                by=by.user,
                action="onboarding.version_changed",
                obj=version,
                data=data,
                now=now,
            )
        if old_pdf:
            storage = version.pdf.storage
            transaction.on_commit(lambda: storage.delete(old_pdf))
    return version


def delete_version(version: AgreementVersion, *, by: Membership) -> None:
    """Delete a version nobody has accepted (its PDF goes after commit)."""
    if not by.has_perm(DELETE):
        raise OnboardingError("You may not delete agreement versions.")
    with transaction.atomic():
        version = (
            AgreementVersion.objects.select_for_update()
            .select_related("agreement")
            .get(pk=version.pk)
        )
        accepted = version.acceptances.count()
        if accepted:
            raise OnboardingError(
                f"Version {version.number} of {version.agreement.title} has been accepted by "
                f"{fmt.plural(accepted, 'partner')}: it is the record of what they accepted "
                "and cannot be deleted. Add a new version, or set an expiry date on a version "
                "nobody accepted yet."
            )
        audit(
            by.tenant,
            by=by.user,
            action="onboarding.version_deleted",
            obj=version,
            data={"number": version.number, "content_sha256": version.content_sha256},
        )
        name, storage = version.pdf.name, version.pdf.storage
        version.delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name))


# --- Acceptance ------------------------------------------------------------------------


def _address(ip: str | None) -> str | None:
    """``ip`` if it is an IPv4 or IPv6 address, else None."""
    try:
        validate_ipv46_address(ip or "")
    except ValidationError:
        return None
    return ip


def may_accept(membership: Membership) -> bool:
    return membership.role == Role.PARTNER_ADMIN and membership.partner_id is not None


def acceptors(partner: Partner) -> list[str]:
    """The names of the partner's people who may accept (its partner admins)."""
    return [
        m.user.get_full_name() or m.user.email
        for m in Membership.objects.filter(
            partner=partner, role=Role.PARTNER_ADMIN, is_active=True, user__is_active=True
        )
        .select_related("user")
        .order_by("user__full_name", "user__email")
    ]


def acceptable(version: AgreementVersion, partner: Partner, *, day: date) -> str | None:
    """Why ``partner`` cannot accept ``version`` on ``day`` (None: it can):
    only the current version of an active agreement that applies to it."""
    agreement = version.agreement
    if not agreement.applies_to(partner.partner_type):
        return f"{agreement.title} is not asked of {partner.name}."
    if not version.in_force(day):
        if version.effective_on > day:
            return f"Version {version.number} takes effect on {fmt.day(version.effective_on)}."
        return f"Version {version.number} is no longer in force."
    newer = agreement.versions.filter(agreements.in_force(day), number__gt=version.number)
    if newer.exists():
        return f"Version {version.number} has been replaced by a newer version: accept that one."
    return None


def accept(
    version: AgreementVersion,
    *,
    by: Membership,
    typed_name: str,
    ip: str | None,
    user_agent: str,
    shown_sha256: str | None = None,
    now: datetime | None = None,
) -> Acceptance:
    """Record that ``by`` (a partner admin) accepted ``version`` for their
    organisation, signing with ``typed_name``. ``shown_sha256``, when given,
    is the hash of the content the page showed: it must still be the
    version's. Raises ``AlreadyAccepted`` when the partner accepted it
    before."""
    if not may_accept(by):
        raise OnboardingError("Only a partner admin of your organisation can accept agreements.")
    partner = by.partner
    assert partner is not None  # may_accept
    tenant: Tenant = by.tenant
    now = now or timezone.now()
    name = " ".join((typed_name or "").split())
    if len(name) < MIN_NAME:
        raise OnboardingError("Type your full name to sign.", field="typed_name")
    if len(name) > TYPED_NAME_MAX:
        raise OnboardingError(
            f"Type your name in at most {TYPED_NAME_MAX} characters.", field="typed_name"
        )
    with transaction.atomic():
        # Locked: a change of an unaccepted version waits for this, and
        # this sees the version as it is once that change is done.
        version = (
            AgreementVersion.objects.select_for_update(of=("self",))
            .select_related("agreement")
            .get(pk=version.pk)
        )
        earlier = (
            Acceptance.objects.filter(version=version, partner=partner)
            .select_related("partner", "version__agreement")
            .first()
        )
        if earlier is not None:
            earlier.partner.tenant = tenant
            raise AlreadyAccepted(earlier)
        refusal = acceptable(version, partner, day=tenant.local_today(now))
        if refusal is not None:
            raise OnboardingError(refusal)
        digest = stored_hash(version)
        if digest != version.content_sha256:
            logger.error(
                "Agreement version %s: its stored content does not match its hash", version.pk
            )
            raise OnboardingError(
                "This agreement's document cannot be verified right now, so it cannot be "
                "accepted. Try again later, or tell your channel manager.",
            )
        if shown_sha256 is not None and shown_sha256 != digest:
            raise OnboardingError(
                "The agreement changed while you were reading it: read it again, then accept."
            )
        try:
            with transaction.atomic():
                acceptance = Acceptance.objects.create(
                    tenant=tenant,
                    version=version,
                    partner=partner,
                    user=by.user,
                    typed_name=name,
                    accepted_at=now,
                    ip_address=_address(ip),
                    user_agent=(user_agent or "")[:USER_AGENT_MAX],
                    content_sha256=digest,
                )
        except IntegrityError:
            # Accepted a moment ago by a parallel submit.
            earlier = (
                Acceptance.objects.select_related("partner", "version__agreement")
                .filter(version=version, partner=partner)
                .first()
            )
            if earlier is None:
                raise
            earlier.partner.tenant = tenant
            raise AlreadyAccepted(earlier) from None
        audit(
            tenant,
            by=by.user,
            action="onboarding.agreement_accepted",
            obj=acceptance,
            data={
                "agreement": str(version.agreement_id),
                "version": version.number,
                "typed_name": name,
                "content_sha256": digest,
                "ip": acceptance.ip_address or "",
            },
            now=now,
        )
        _tell_channel_manager(acceptance, partner, version)
        plans.sync_after_commit(partner)
    return acceptance


def _tell_channel_manager(
    acceptance: Acceptance, partner: Partner, version: AgreementVersion
) -> None:
    """The partner's channel manager (ops when it has none) hears of it."""
    tenant = partner.tenant
    people = [partner.channel_manager] if partner.channel_manager_id else []
    if not people:
        people = list(staff_with_role(Role.OPS_ADMIN))
    notify(
        tenant,
        people,
        kind="onboarding.agreement_accepted",
        title=f"{partner.name} accepted {version.agreement.title} v{version.number}",
        body=(
            f"{acceptance.typed_name} accepted version {version.number} of "
            f"{version.agreement.title} for {partner.name} on "
            f"{fmt.moment(acceptance.accepted_at, tenant.tzinfo)}."
        ),
        url=f"{reverse(REPORT)}?agreement={version.agreement_id}",
    )
