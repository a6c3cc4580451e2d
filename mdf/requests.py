"""Fund requests: a partner proposes an activity (drafts; a double submit
saves once), the partner's channel manager decides it within the decision
deadline (ops or finance approve too above the fund type's threshold), and
an approved amount is reserved against the allocation until the claim is
decided or the claim window closes."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction

from prm import format as fmt
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, finish_tasks, notify

from . import counters, events
from .errors import MdfError
from .models import ActivityType, Allocation, CostLine, FundRequest
from .windows import decide_extension as decide_extension
from .windows import post_message as post_message
from .windows import release_unclaimed as release_unclaimed
from .windows import request_extension as request_extension
from .workflow import (
    ANSWER,
    CLAIM,
    DECIDE,
    SECOND,
    Kind,
    admin_request_url,
    approver_for,
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
    start_clock,
)

Status = FundRequest.Status
ZERO = Decimal("0")
DECIDE_PERM = "mdf.decide_fundrequest"
SECOND_PERM = "mdf.approve_large_fundrequest"


@dataclass
class RequestData:
    """What the partner fills in."""

    allocation: Allocation
    activity_type: str
    title: str
    starts_on: date
    ends_on: date
    description: str
    requested_amount: Decimal
    cost_lines: list[tuple[str, Decimal]]
    audience: str = ""
    expected_reach: int = 0
    expected_leads: int = 0
    expected_pipeline: Decimal = ZERO


def max_reimbursable(total_cost: Decimal, percent: Decimal, currency: str) -> Decimal:
    """The most a fund pays of ``total_cost``: its reimbursement percentage,
    rounded by the ledger's rule."""
    return counters.round_money(total_cost * percent / 100, currency)


def _check(
    data: RequestData,
    request: FundRequest | None,
    by: Membership,
    *,
    submitting: bool,
    now: datetime,
) -> tuple[Decimal, Decimal]:
    allocation = data.allocation
    if allocation.partner_id != by.partner_id:
        raise MdfError("Choose one of your own allocations.", "allocation")
    fund_type = allocation.budget.fund_type
    tenant = allocation.tenant
    today = tenant.local_today(now)
    if not fund_type.active:
        raise MdfError(f"{fund_type.name} no longer takes requests.", "allocation")
    if not data.title.strip():
        raise MdfError("Give the activity a title.", "title")
    if data.activity_type not in fund_type.activity_types:
        allowed = ", ".join(
            label
            for value, label in ActivityType.choices  # the field's choices, in their order
            if value in fund_type.activity_types
        )
        raise MdfError(f"{fund_type.name} pays for: {allowed}.", "activity_type")
    if data.ends_on < data.starts_on:
        raise MdfError("The activity cannot end before it starts.", "ends_on")
    budget = allocation.budget
    if not budget.starts_on <= data.starts_on <= budget.ends_on:
        raise MdfError(
            f"The activity must start within the allocation's period "
            f"({fmt.day(budget.starts_on)} to {fmt.day(budget.ends_on)}).",
            "starts_on",
        )
    if submitting:
        earliest = today + timedelta(days=fund_type.request_lead_days)
        if data.starts_on < earliest:
            raise MdfError(
                f"{fund_type.name} requests must be submitted at least "
                f"{fmt.plural(fund_type.request_lead_days, 'day')} before the activity starts: "
                f"start on {fmt.day(earliest)} or later.",
                "starts_on",
            )
    if not data.description.strip():
        raise MdfError("Describe the activity.", "description")
    if not data.cost_lines:
        raise MdfError("Add at least one cost line.", "cost_lines")
    for text, amount in data.cost_lines:
        if not text.strip():
            raise MdfError("Describe every cost line.", "cost_lines")
        if amount is None or amount <= 0:
            raise MdfError(f"The cost of “{text.strip()}” must be more than zero.", "cost_lines")
    total = sum((amount for _, amount in data.cost_lines), ZERO)
    limit = max_reimbursable(total, fund_type.reimbursement_percent, tenant.base_currency)
    if data.requested_amount is None or data.requested_amount <= 0:
        raise MdfError("Enter the amount you ask for.", "requested_amount")
    if data.requested_amount > limit:
        raise MdfError(
            f"{fund_type.name} pays {fmt.number(fund_type.reimbursement_percent.normalize())} % "
            f"of the cost: at most {counters.money(limit, tenant)} of "
            f"{counters.money(total, tenant)}.",
            "requested_amount",
        )
    if submitting:
        counters.refresh(allocation)
        if data.requested_amount > allocation.available:
            raise MdfError(
                f"Only {counters.money(allocation.available, tenant)} of this allocation is "
                "available.",
                "requested_amount",
            )
    return total, limit


def save_request(
    data: RequestData,
    *,
    by: Membership,
    request: FundRequest | None = None,
    client_token: uuid.UUID | None = None,
    submit: bool = False,
    now: datetime | None = None,
) -> FundRequest:
    """Save a new request or change a draft (or one sent back for
    information), and submit it if asked. A repeated ``client_token``
    returns the request the first submit saved."""
    now = resolve_now(now)
    require_partner(by, data.allocation.partner_id)
    tenant = data.allocation.tenant
    if request is None and client_token is not None:
        existing = FundRequest.objects.filter(client_token=client_token).first()
        if existing is not None:
            return existing
    total, _ = _check(data, request, by, submitting=submit, now=now)
    try:
        with transaction.atomic():
            if request is None:
                request = FundRequest(
                    tenant=tenant,
                    partner_id=data.allocation.partner_id,
                    submitted_by=by.user,
                    client_token=client_token,
                    created_at=now,
                )
                created = True
            else:
                request = lock_request(request)
                require_partner(by, request.partner_id)
                require_status(request, (Status.DRAFT, Status.MORE_INFO), "changed")
                created = False
            fund_type = data.allocation.budget.fund_type
            request.allocation = data.allocation
            request.fund_type = fund_type
            request.period_start = data.allocation.budget.starts_on
            request.reimbursement_percent = fund_type.reimbursement_percent
            request.currency = tenant.base_currency
            request.total_cost = total
            for name in (
                "activity_type",
                "starts_on",
                "ends_on",
                "requested_amount",
                "expected_reach",
                "expected_leads",
                "expected_pipeline",
            ):
                setattr(request, name, getattr(data, name))
            request.title = data.title.strip()
            request.description = data.description.strip()
            request.audience = data.audience.strip()
            request.save()
            request.cost_lines.all().delete()
            CostLine.objects.bulk_create(
                CostLine(
                    tenant=tenant,
                    request=request,
                    position=position,
                    description=text.strip()[:200],
                    amount=amount,
                )
                for position, (text, amount) in enumerate(data.cost_lines)
            )
            if created:
                record_event(request, Kind.CREATED, by=by.user, now=now)
            if submit:
                if request.status == Status.MORE_INFO:
                    _answered(request, by=by, message="", now=now)
                else:
                    _submit(request, by=by, now=now)
    except IntegrityError as error:
        if client_token is not None:
            existing = FundRequest.objects.filter(client_token=client_token).first()
            if existing is not None:
                return existing
        raise MdfError(
            "You already have an activity with this title this period: choose another title.",
            "title",
        ) from error
    return request


def submit_request(
    request: FundRequest, *, by: Membership, now: datetime | None = None
) -> FundRequest:
    """Submit a saved draft (its data checked again, with the lead time
    and what is available)."""
    now = resolve_now(now)
    data = data_of(request)
    return save_request(data, by=by, request=request, submit=True, now=now)


def data_of(request: FundRequest) -> RequestData:
    return RequestData(
        allocation=request.allocation,
        activity_type=request.activity_type,
        title=request.title,
        starts_on=request.starts_on,
        ends_on=request.ends_on,
        description=request.description,
        requested_amount=request.requested_amount,
        cost_lines=[(c.description, c.amount) for c in request.cost_lines.all()],
        audience=request.audience,
        expected_reach=request.expected_reach,
        expected_leads=request.expected_leads,
        expected_pipeline=request.expected_pipeline,
    )


def _submit(request: FundRequest, *, by: Membership, now: datetime) -> None:
    request.status = Status.SUBMITTED
    request.submitted_at = now
    request.submitted_by = by.user
    request.approver = approver_for(request.partner)
    threshold = request.fund_type.second_approval_above
    request.needs_second_approval = threshold is not None and request.requested_amount > threshold
    start_clock(request, now)
    request.save()
    record_event(
        request,
        Kind.SUBMITTED,
        by=by.user,
        now=now,
        data={"requested": str(request.requested_amount)},
    )
    if request.approver is not None:
        record_event(
            request,
            Kind.ASSIGNED,
            by=None,
            visible=False,
            now=now,
            data={"approver": request.approver.email},
        )
    audit(request.tenant, by=by.user, action="mdf.request_submitted", obj=request, now=now)
    deciders = [request.approver] if request.approver else staff(Role.OPS_ADMIN)
    notify(
        request.tenant,
        deciders,
        kind="mdf.request_assigned",
        title=f"Fund request {request.code} to decide by "
        f"{fmt.moment(request.due_at, request.tenant.tzinfo)}: "
        f"{request.partner.name}, {counters.money(request.requested_amount, request.tenant)}",
        url=admin_request_url(request),
        about=request,
        task=DECIDE,
    )


def _answered(request: FundRequest, *, by: Membership, message: str, now: datetime) -> None:
    request.status = Status.SUBMITTED
    start_clock(request, now)
    request.save()
    record_event(request, Kind.INFO_PROVIDED, by=by.user, message=message, now=now)
    finish_tasks(request, ANSWER, now=now)
    notify(
        request.tenant,
        [request.approver] if request.approver else staff(Role.OPS_ADMIN),
        kind="mdf.info_provided",
        title=f"{request.partner.name} answered your questions on {request.code}",
        body=message,
        url=admin_request_url(request),
        about=request,
        task=DECIDE,
    )


def provide_info(
    request: FundRequest, *, by: Membership, message: str, now: datetime | None = None
) -> FundRequest:
    """The partner answers the reviewer (and may have changed the request
    with ``save_request`` first): back to the reviewer, with a new deadline."""
    now = resolve_now(now)
    if not message.strip():
        raise MdfError("Write your answer.", "message")
    with transaction.atomic():
        request = lock_request(request)
        require_partner(by, request.partner_id)
        require_status(request, (Status.MORE_INFO,), "answered")
        _answered(request, by=by, message=message.strip(), now=now)
    return request


def can_decide(by: Membership, request: FundRequest) -> bool:
    return by.is_active and by.has_perm(DECIDE_PERM, request)


def can_second(by: Membership, request: FundRequest) -> bool:
    return by.is_active and by.has_perm(SECOND_PERM, request)


def approve_request(
    request: FundRequest,
    *,
    by: Membership,
    amount: Decimal | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> FundRequest:
    """Approve in full (``amount`` None) or in part (with a reason). Above
    the fund type's threshold the first approval (the channel manager's)
    waits for a second by ops or finance, someone else; the final approval
    reserves the amount against the allocation, refused if the allocation
    no longer has it (the database's constraint decides, whatever runs at
    the same time)."""
    now = resolve_now(now)
    reason = reason.strip()
    with transaction.atomic():
        request = lock_request(request)
        require_status(request, (Status.SUBMITTED,), "approved")
        first = request.first_approved_by_id
        if first is None:
            require_perm(
                by,
                DECIDE_PERM,
                request,
                "Only the partner's channel manager or ops may decide this request.",
            )
        else:
            require_perm(by, SECOND_PERM, request, "The second approval is for ops or finance.")
            if by.user_id == first:
                raise MdfError("The second approval must be someone else's.")
        amount = request.requested_amount if amount is None else amount
        if amount <= 0:
            raise MdfError("Approve an amount greater than zero, or reject the request.", "amount")
        if amount > request.requested_amount:
            raise MdfError(
                "You can approve at most the "
                f"{counters.money(request.requested_amount, request.tenant)} asked for.",
                "amount",
            )
        if (
            first is not None
            and request.approved_amount is not None
            and amount > request.approved_amount
        ):
            raise MdfError(
                "The first approval was for "
                f"{counters.money(request.approved_amount, request.tenant)}: "
                "the second cannot approve more.",
                "amount",
            )
        if amount < request.requested_amount and not reason:
            raise MdfError("Say why you approve less than was asked for.", "reason")
        if request.needs_second_approval and first is None:
            request.first_approved_by = by.user
            request.first_approved_at = now
            request.approved_amount = amount
            request.save()
            record_event(
                request,
                Kind.FIRST_APPROVAL,
                by=by.user,
                message=reason,
                now=now,
                data={"amount": str(amount)},
            )
            finish_tasks(request, DECIDE, now=now)
            notify(
                request.tenant,
                staff(Role.OPS_ADMIN, Role.FINANCE),
                kind="mdf.second_approval",
                title=f"Fund request {request.code} needs a second approval: "
                f"{request.partner.name}, {counters.money(amount, request.tenant)}",
                url=admin_request_url(request),
                about=request,
                task=SECOND,
            )
            return request
        allocation = Allocation.objects.select_related("budget").get(pk=request.allocation_id)
        available = allocation.available
        counters.move(
            allocation,
            counters.Change.RESERVED,
            amount,
            by=by.user,
            request=request,
            reason=f"{request.code} {request.title}",
            refusal=f"Only {counters.money(available, request.tenant)} of "
            f"{request.partner.name}'s allocation is available.",
            now=now,
            counters={"reserved": amount},
        )
        request.status = Status.APPROVED
        request.approved_amount = amount
        request.reserved = amount
        request.decided_at = now
        request.decided_by = by.user
        request.decision_reason = reason
        request.next_check_at = None
        request.claim_deadline = request.ends_on + timedelta(
            days=request.fund_type.claim_window_days
        )
        request.save()
        partial = amount < request.requested_amount
        record_event(
            request,
            Kind.APPROVED,
            by=by.user,
            message=reason,
            now=now,
            data={"amount": str(amount), "partial": partial},
        )
        audit(
            request.tenant,
            by=by.user,
            action="mdf.request_approved",
            obj=request,
            now=now,
            data={"amount": str(amount)},
        )
        finish_tasks(request, DECIDE, SECOND, now=now)
        events.request_decided(request, "mdf_request.approved", now)
        notify(
            request.tenant,
            partner_people(request.partner_id, request.submitted_by),
            kind="mdf.request_approved",
            title=f"{request.code} approved: {counters.money(amount, request.tenant)}"
            + (" (part of what you asked for)" if partial else "")
            + f"; claim by {fmt.day(request.claim_deadline)}",
            body=reason,
            url=portal_url(request),
            about=request,
            task=CLAIM,
        )
    return request


def reject_request(
    request: FundRequest, *, by: Membership, reason: str, now: datetime | None = None
) -> FundRequest:
    now = resolve_now(now)
    reason = reason.strip()
    if not reason:
        raise MdfError("Give the partner the reason for the rejection.", "reason")
    with transaction.atomic():
        request = lock_request(request)
        require_status(request, (Status.SUBMITTED, Status.MORE_INFO), "rejected")
        if not (
            can_decide(by, request) or (request.first_approved_by_id and can_second(by, request))
        ):
            raise MdfError(
                "Only the partner's channel manager, ops or finance may reject this request."
            )
        request.status = Status.REJECTED
        request.decided_at = now
        request.decided_by = by.user
        request.decision_reason = reason
        request.next_check_at = None
        request.save()
        record_event(request, Kind.REJECTED, by=by.user, message=reason, now=now)
        audit(request.tenant, by=by.user, action="mdf.request_rejected", obj=request, now=now)
        finish_tasks(request, DECIDE, SECOND, ANSWER, now=now)
        events.request_decided(request, "mdf_request.rejected", now)
        notify(
            request.tenant,
            partner_people(request.partner_id, request.submitted_by),
            kind="mdf.request_rejected",
            title=f"{request.code} was not approved",
            body=reason,
            url=portal_url(request),
        )
    return request


def request_info(
    request: FundRequest, *, by: Membership, message: str, now: datetime | None = None
) -> FundRequest:
    now = resolve_now(now)
    message = message.strip()
    if not message:
        raise MdfError("Write what you need to know.", "message")
    with transaction.atomic():
        request = lock_request(request)
        require_status(request, (Status.SUBMITTED,), "sent back for information")
        require_perm(by, DECIDE_PERM, request, "Only the partner's channel manager or ops may ask.")
        request.status = Status.MORE_INFO
        request.next_check_at = None
        request.save()
        record_event(request, Kind.INFO_REQUESTED, by=by.user, message=message, now=now)
        finish_tasks(request, DECIDE, now=now)
        notify(
            request.tenant,
            partner_people(request.partner_id, request.submitted_by),
            kind="mdf.info_requested",
            title=f"The vendor asks about {request.code} {request.title}",
            body=message,
            url=portal_url(request),
            about=request,
            task=ANSWER,
        )
    return request


def cancel_request(
    request: FundRequest, *, by: Membership, reason: str = "", now: datetime | None = None
) -> FundRequest:
    """The partner (or ops) cancels an activity that has no live claim; an
    approved one gives its reservation back."""
    now = resolve_now(now)
    with transaction.atomic():
        request = lock_request(request)
        if not (is_partner_member(by, request.partner_id) or by.has_perm(DECIDE_PERM, request)):
            raise MdfError("Only the partner or the vendor's reviewers may cancel this request.")
        require_status(
            request,
            (Status.DRAFT, Status.SUBMITTED, Status.MORE_INFO, Status.APPROVED),
            "cancelled",
        )
        if request.claims.filter(status__in=["draft", "submitted", "more_info_requested"]).exists():
            raise MdfError("Withdraw the activity's claim first.")
        if request.reserved > 0:
            counters.release(
                request.allocation,
                request.reserved,
                by=by.user,
                request=request,
                reason=f"{request.code} cancelled.",
                now=now,
            )
            request.reserved = ZERO
        request.status = Status.CANCELLED
        request.next_check_at = None
        request.closed_at = now
        request.save()
        record_event(request, Kind.CANCELLED, by=by.user, message=reason.strip(), now=now)
        finish_tasks(request, DECIDE, SECOND, ANSWER, CLAIM, now=now)
    return request
