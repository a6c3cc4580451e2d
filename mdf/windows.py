"""Around an activity's decision: messages between the partner and the
reviewers, claim-window extensions, and the release of what an activity
that was never claimed reserved."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from prm import format as fmt
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from prm.tenancy.services import finish_tasks, notify

from . import counters
from .errors import MdfError
from .models import ClaimExtension, FundRequest
from .workflow import (
    CLAIM,
    DECIDE_EXTENSION,
    Kind,
    admin_request_url,
    is_partner_member,
    lock_request,
    partner_people,
    portal_url,
    record_event,
    require_partner,
    require_perm,
    require_status,
    resolve_now,
    staff,
)

Status = FundRequest.Status
ZERO = Decimal("0")
DECIDE_PERM = "mdf.decide_fundrequest"


def post_message(
    request: FundRequest,
    *,
    by: Membership,
    text: str,
    claim: Any = None,
    now: datetime | None = None,
) -> None:
    """A message between the partner and the reviewers, on the timeline;
    the other side is told."""
    now = resolve_now(now)
    text = text.strip()
    if not text:
        raise MdfError("Write a message.", "message")
    if len(text) > 4000:
        raise MdfError("A message is at most 4,000 characters.", "message")
    partner_side = is_partner_member(by, request.partner_id)
    if not partner_side and not by.has_perm("mdf.view_fundrequest", request):
        raise MdfError("Only the partner or the vendor's reviewers may write here.")
    record_event(request, Kind.MESSAGE, by=by.user, claim=claim, message=text, now=now)
    if partner_side:
        people: Sequence[User | None] = (
            [request.approver] if request.approver else staff(Role.OPS_ADMIN)
        )
        url = admin_request_url(request)
    else:
        people = partner_people(request.partner_id, request.submitted_by)
        url = portal_url(request)
    notify(
        request.tenant,
        [p for p in people if p != by.user],
        kind="mdf.message",
        title=f"Message on {request.code} {request.title}",
        body=text,
        url=url,
    )


# --- Claim windows --------------------------------------------------------------------


def request_extension(
    request: FundRequest, *, by: Membership, days: int, reason: str, now: datetime | None = None
) -> ClaimExtension:
    now = resolve_now(now)
    require_partner(by, request.partner_id)
    if not reason.strip():
        raise MdfError("Say why you need more time.", "reason")
    if not isinstance(days, int) or not 1 <= days <= 180:
        raise MdfError("Ask for 1 to 180 more days.", "days")
    with transaction.atomic():
        request = lock_request(request)
        require_status(request, (Status.APPROVED,), "extended")
        try:
            with transaction.atomic():
                extension = ClaimExtension.objects.create(
                    tenant=request.tenant,
                    request=request,
                    days=days,
                    reason=reason.strip(),
                    requested_by=by.user,
                    requested_at=now,
                )
        except IntegrityError as error:
            raise MdfError(
                "An extension of this claim window is already waiting for a decision.", "days"
            ) from error
        record_event(
            request,
            Kind.EXTENSION_REQUESTED,
            by=by.user,
            message=reason.strip(),
            now=now,
            data={"days": days},
        )
        notify(
            request.tenant,
            [request.approver] if request.approver else staff(Role.OPS_ADMIN),
            kind="mdf.extension_requested",
            title=f"{request.partner.name} asks {fmt.plural(days, 'more day')} "
            f"to claim {request.code}",
            body=reason.strip(),
            url=admin_request_url(request),
            about=request,
            task=DECIDE_EXTENSION,
        )
    return extension


def decide_extension(
    extension: ClaimExtension,
    *,
    by: Membership,
    approve: bool,
    reason: str = "",
    now: datetime | None = None,
) -> ClaimExtension:
    now = resolve_now(now)
    with transaction.atomic():
        request = lock_request(extension.request)
        require_perm(
            by, DECIDE_PERM, request, "Only the partner's channel manager or ops may decide."
        )
        extension = ClaimExtension.objects.select_for_update().get(pk=extension.pk)
        if extension.status != ClaimExtension.Status.PENDING:
            raise MdfError("This extension was already decided.")
        if not approve and not reason.strip():
            raise MdfError("Give the partner the reason for the refusal.", "reason")
        extension.status = (
            ClaimExtension.Status.APPROVED if approve else ClaimExtension.Status.REJECTED
        )
        extension.decided_by = by.user
        extension.decided_at = now
        extension.decision_reason = reason.strip()
        extension.save()
        if approve and request.claim_deadline is not None:
            request.claim_deadline += timedelta(days=extension.days)
            request.save(update_fields=["claim_deadline", "updated_at"])
        record_event(
            request,
            Kind.EXTENSION_APPROVED if approve else Kind.EXTENSION_REJECTED,
            by=by.user,
            message=reason.strip(),
            now=now,
            data={"days": extension.days, "claim_deadline": str(request.claim_deadline)},
        )
        finish_tasks(request, DECIDE_EXTENSION, now=now)
        notify(
            request.tenant,
            partner_people(request.partner_id, extension.requested_by),
            kind="mdf.extension_decided",
            title=(
                f"{request.code}: claim by {fmt.day(request.claim_deadline)}"
                if approve
                else f"{request.code}: no extension of the claim window"
            ),
            body=reason.strip(),
            url=portal_url(request),
        )
    return extension


def release_unclaimed(tenant: Any, *, now: datetime | None = None) -> list[FundRequest]:
    """Approved activities whose claim window has closed with no claim
    waiting: their reservation goes back (or expires with the period) and
    the request is closed."""
    now = resolve_now(now)
    today = tenant.local_today(now)
    done = []
    ids = list(
        FundRequest.objects.filter(status=Status.APPROVED, claim_deadline__lt=today).values_list(
            "pk", flat=True
        )
    )
    for pk in ids:
        with transaction.atomic():
            request = lock_request(FundRequest(pk=pk))
            if request.status != Status.APPROVED or request.claim_deadline >= today:
                continue
            if request.claims.filter(status__in=["submitted", "more_info_requested"]).exists():
                continue
            if request.reserved > 0:
                counters.release(
                    request.allocation,
                    request.reserved,
                    by=None,
                    request=request,
                    reason=f"{request.code}: the claim window closed on "
                    f"{fmt.day(request.claim_deadline)}.",
                    now=now,
                )
                request.reserved = ZERO
            request.status = Status.CLOSED
            request.closed_at = now
            request.save()
            record_event(
                request,
                Kind.RELEASED,
                now=now,
                message=f"No claim by {fmt.day(request.claim_deadline)}.",
            )
            finish_tasks(request, CLAIM, now=now)
            notify(
                tenant,
                partner_people(request.partner_id, request.submitted_by),
                kind="mdf.window_closed",
                title=f"{request.code}: the claim window closed; its funds were released",
                url=portal_url(request),
            )
            done.append(request)
    return done
