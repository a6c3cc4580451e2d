"""Versions of the tier criteria, as ops change them: start a draft (a
copy of the published version, or empty), check it, publish it (the
published version retires in the same transaction) or discard it.

At most one draft and one published version exist per tenant (database
constraints); these services refuse with a message before the database
would, and turn a race the database catches into the same message.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from prm.tenancy.models import Tenant, User
from prm.tenancy.services import audit

from .errors import ProgramError
from .models import CriteriaVersion, TierCriterion, TierTarget

Status = CriteriaVersion.Status


def draft_of(tenant: Tenant) -> CriteriaVersion | None:
    return CriteriaVersion.objects.filter(tenant_id=tenant.pk, status=Status.DRAFT).first()


def new_draft(
    tenant: Tenant, *, by: User | None, note: str = "", now: datetime | None = None
) -> CriteriaVersion:
    """A new draft: a copy of the published version's targets and criteria,
    or empty when none is published. Refused while a draft exists."""
    now = now or timezone.now()
    with transaction.atomic():
        # Serialise the tenant's draft starts on the published row (or on
        # nothing: the unique constraint then decides).
        source = (
            CriteriaVersion.objects.select_for_update()
            .filter(tenant_id=tenant.pk, status=Status.PUBLISHED)
            .first()
        )
        existing = draft_of(tenant)
        if existing is not None:
            raise ProgramError(_draft_open(existing), "note")
        top = CriteriaVersion.objects.filter(tenant_id=tenant.pk).aggregate(n=Max("number"))["n"]
        try:
            with transaction.atomic():
                draft = CriteriaVersion.objects.create(
                    tenant=tenant,
                    number=(top or 0) + 1,
                    status=Status.DRAFT,
                    note=note.strip(),
                    created_by=by,
                    created_at=now,
                )
        except IntegrityError as exc:  # another draft started at the same moment
            raise ProgramError(_draft_open(draft_of(tenant)), "note") from exc
        if source is not None:
            _copy(source, draft)
        audit(
            tenant,
            by=by,
            action="program.criteria_draft_started",
            obj=draft,
            data={"number": draft.number, "from": source.number if source else None},
            now=now,
        )
    return draft


def _draft_open(draft: CriteriaVersion | None) -> str:
    which = f"v{draft.number}" if draft is not None else "A draft"
    return f"Draft {which} is open already: edit it, or discard it before starting another."


def _copy(source: CriteriaVersion, draft: CriteriaVersion) -> None:
    targets = list(TierTarget.objects.filter(version=source).prefetch_related("criteria"))
    copies = TierTarget.objects.bulk_create(
        [
            TierTarget(
                tenant_id=t.tenant_id,
                version=draft,
                tier_id=t.tier_id,
                counted_minimum=t.counted_minimum,
            )
            for t in targets
        ]
    )
    TierCriterion.objects.bulk_create(
        [
            TierCriterion(
                tenant_id=c.tenant_id,
                target=copy,
                kind=c.kind,
                certification_id=c.certification_id,
                threshold=c.threshold,
                required=c.required,
            )
            for original, copy in zip(targets, copies, strict=True)
            for c in original.criteria.all()
        ]
    )


def problems(version: CriteriaVersion) -> list[str]:
    """What stops ``version`` from being published, one sentence each."""
    targets = list(
        TierTarget.objects.filter(version=version)
        .select_related("tier")
        .prefetch_related("criteria")
        .order_by("tier__rank")
    )
    if not targets:
        return ["The draft sets no criteria for any tier: add a tier and its criteria."]
    found = []
    for target in targets:
        criteria = list(target.criteria.all())
        counted = sum(not c.required for c in criteria)
        if not criteria:
            found.append(
                f"{target.tier} has no criteria, so every partner would qualify for it: add "
                "criteria, or remove the tier from this version (it is then by invitation)."
            )
        elif target.counted_minimum > counted:
            found.append(
                f"{target.tier} asks for {target.counted_minimum} counted criteria but has "
                f"{counted} that are not required."
            )
        if len({(c.kind, c.certification_id) for c in criteria}) != len(criteria):
            found.append(f"{target.tier} lists a criterion twice.")
    return found


def publish(
    version: CriteriaVersion, *, by: User | None, now: datetime | None = None
) -> CriteriaVersion:
    """Publish the draft ``version``: the published version (if any) retires
    and the draft takes its place, in one transaction. Evaluations use it
    from then on."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the tenant's live versions (the published one and the draft)
        # in one statement, so two publishers queue up; the second finds
        # the draft published already.
        rows = {
            v.pk: v
            for v in CriteriaVersion.objects.select_for_update()
            .filter(tenant_id=version.tenant_id, status__in=[Status.DRAFT, Status.PUBLISHED])
            .order_by("pk")
        }
        draft = rows.get(version.pk)
        if draft is None or draft.status != Status.DRAFT:
            raise ProgramError(f"v{version.number} is not a draft any more: nothing to publish.")
        found = problems(draft)
        if found:
            raise ProgramError(" ".join(found))
        retired = next((v for v in rows.values() if v.status == Status.PUBLISHED), None)
        if retired is not None:
            retired.status = Status.RETIRED
            retired.save(update_fields=["status"])
        draft.status = Status.PUBLISHED
        draft.published_at = now
        draft.published_by = by
        draft.save(update_fields=["status", "published_at", "published_by"])
        audit(
            draft.tenant,
            by=by,
            action="program.criteria_published",
            obj=draft,
            data={"number": draft.number, "retired": retired.number if retired else None},
            now=now,
        )
    return draft


def discard(version: CriteriaVersion, *, by: User | None, now: datetime | None = None) -> None:
    """Delete the draft ``version`` with its targets and criteria."""
    with transaction.atomic():
        draft = CriteriaVersion.objects.select_for_update().filter(pk=version.pk).first()
        if draft is None or draft.status != Status.DRAFT:
            raise ProgramError(f"v{version.number} is not a draft any more: nothing to discard.")
        audit(
            draft.tenant,
            by=by,
            action="program.criteria_draft_discarded",
            obj=draft,
            data={"number": draft.number},
            now=now,
        )
        draft.delete()
