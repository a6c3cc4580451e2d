"""Claims with proof of performance: the partner claims an approved
activity within its claim window (actual costs, invoice, results, proof
files), the channel manager may check the proof, finance decides; an
approved claim moves the activity's reservation to ``claimed`` and writes
the reimbursement into the incentives ledger, where the payout runs pay it
and the partner's statement shows it."""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Sum

from incentives import ledger
from incentives.models import LedgerEntry
from prm import format as fmt
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role
from prm.tenancy.services import audit, finish_tasks, notify

from . import counters, events
from .duplicates import flag_duplicates, normalize_invoice_number, normalize_supplier
from .errors import MdfError
from .models import Claim, ClaimLine, Document, FundRequest, ProofFile, Reimbursement
from .uploads import check_uploads, store_proof
from .workflow import (
    ANSWER,
    CLAIM,
    REVIEW,
    Kind,
    admin_claim_url,
    is_partner_member,
    lock_claim,
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

Status = Claim.Status
ZERO = Decimal("0")
DECIDE_PERM = "mdf.decide_claim"
VERIFY_PERM = "mdf.verify_claim"


@dataclass
class ClaimData:
    invoice_number: str
    invoice_date: date
    supplier: str
    claimed_amount: Decimal
    lines: list[tuple[str, Decimal]]
    leads: int = 0
    attendees: int = 0
    opportunities: int = 0
    results: str = ""
    # (document kind, uploaded file) pairs to add to the claim's proof.
    files: list[tuple[str, UploadedFile]] = field(default_factory=list)


def _check(request: FundRequest, data: ClaimData, *, today: date) -> Decimal:
    tenant = request.tenant
    if not data.supplier.strip():
        raise MdfError("Enter the supplier named on the invoice.", "supplier")
    if not data.invoice_number.strip():
        raise MdfError("Enter the invoice number.", "invoice_number")
    if data.invoice_date is None:
        raise MdfError("Enter the invoice date.", "invoice_date")
    if data.invoice_date > today:
        raise MdfError("The invoice date cannot be in the future.", "invoice_date")
    if not data.lines:
        raise MdfError("Add at least one actual cost line.", "lines")
    for text, amount in data.lines:
        if not text.strip():
            raise MdfError("Describe every cost line.", "lines")
        if amount is None or amount <= 0:
            raise MdfError(f"The cost of “{text.strip()}” must be more than zero.", "lines")
    total = sum((amount for _, amount in data.lines), ZERO)
    approved = request.approved_amount
    if approved is None:  # set on approval; only an approved activity is claimed
        raise MdfError("Only an approved activity takes a claim.")
    limit = min(
        approved,
        counters.round_money(total * request.reimbursement_percent / 100, tenant.base_currency),
    )
    if data.claimed_amount is None or data.claimed_amount <= 0:
        raise MdfError("Enter the amount you claim.", "claimed_amount")
    if data.claimed_amount > limit:
        raise MdfError(
            f"You can claim at most {counters.money(limit, tenant)}: "
            f"{fmt.number(request.reimbursement_percent.normalize())} % of the actual cost "
            f"({counters.money(total, tenant)}), up to the "
            f"{counters.money(approved, tenant)} approved.",
            "claimed_amount",
        )
    return total


def _window_open(request: FundRequest, today: date) -> None:
    if today < request.ends_on:
        raise MdfError(
            f"The activity ends on {fmt.day(request.ends_on)}: claim it once it has taken place.",
            "request",
        )
    if request.claim_deadline is not None and today > request.claim_deadline:
        raise MdfError(
            f"The claim window of {request.code} closed on {fmt.day(request.claim_deadline)}. "
            "Ask for an extension to claim it.",
            "request",
        )


def _required_missing(claim: Claim) -> list[str]:
    have = set(claim.proofs.values_list("kind", flat=True))
    labels = dict(Document.choices)
    return [labels[k] for k in claim.request.fund_type.required_documents if k not in have]


def save_claim(
    request: FundRequest,
    data: ClaimData,
    *,
    by: Membership,
    claim: Claim | None = None,
    client_token: uuid.UUID | None = None,
    submit: bool = False,
    now: datetime | None = None,
) -> Claim:
    """Save a new claim (or change a draft, or one sent back for
    information) with its files, and submit it if asked. A repeated
    ``client_token`` returns the claim the first submit saved."""
    now = resolve_now(now)
    require_partner(by, request.partner_id)
    if claim is None and client_token is not None:
        existing = Claim.objects.filter(client_token=client_token).first()
        if existing is not None:
            return existing
    today = request.tenant.local_today(now)
    try:
        with transaction.atomic():
            request = lock_request(request)
            if claim is None:
                require_status(request, (FundRequest.Status.APPROVED,), "claimed")
                _window_open(request, today)
                claim = Claim(
                    tenant=request.tenant,
                    request=request,
                    partner_id=request.partner_id,
                    submitted_by=by.user,
                    client_token=client_token,
                    created_at=now,
                )
            else:
                claim = lock_claim(claim)
                require_status(claim, (Status.DRAFT, Status.MORE_INFO), "changed")
                if claim.status == Status.DRAFT:
                    _window_open(request, today)
            total = _check(request, data, today=today)
            existing_files = claim.proofs.aggregate(n=Sum(1), size=Sum("size")) if claim.pk else {}
            checked = check_uploads(
                [f for _, f in data.files],
                existing_count=existing_files.get("n") or 0,
                existing_bytes=existing_files.get("size") or 0,
            )
            claim.invoice_number = data.invoice_number.strip()[:60]
            claim.invoice_date = data.invoice_date
            claim.supplier = data.supplier.strip()[:200]
            claim.supplier_normalized = normalize_supplier(claim.supplier)
            claim.invoice_number_normalized = normalize_invoice_number(claim.invoice_number)
            claim.total_cost = total
            claim.claimed_amount = data.claimed_amount
            claim.leads = data.leads
            claim.attendees = data.attendees
            claim.opportunities = data.opportunities
            claim.results = data.results.strip()
            claim.save()
            claim.lines.all().delete()
            ClaimLine.objects.bulk_create(
                ClaimLine(
                    tenant=request.tenant,
                    claim=claim,
                    position=position,
                    description=t.strip()[:200],
                    amount=a,
                )
                for position, (t, a) in enumerate(data.lines)
            )
            for (kind, _), item in zip(data.files, checked, strict=True):
                store_proof(claim, item, kind=kind, by_user=by.user)
            if submit:
                if claim.status == Status.MORE_INFO:
                    _claim_answered(claim, by=by, message="", now=now)
                else:
                    _submit_claim(claim, request, by=by, now=now)
    except IntegrityError as error:
        if client_token is not None:
            existing = Claim.objects.filter(client_token=client_token).first()
            if existing is not None:
                return existing
        raise MdfError("This activity already has a claim.", "request") from error
    return claim


def submit_claim(claim: Claim, *, by: Membership, now: datetime | None = None) -> Claim:
    now = resolve_now(now)
    with transaction.atomic():
        request = lock_request(claim.request)
        claim = lock_claim(claim)
        require_partner(by, claim.partner_id)
        require_status(claim, (Status.DRAFT,), "submitted")
        _window_open(request, request.tenant.local_today(now))
        _submit_claim(claim, request, by=by, now=now)
    return claim


def _submit_claim(claim: Claim, request: FundRequest, *, by: Membership, now: datetime) -> None:
    if missing := _required_missing(claim):
        raise MdfError(
            f"Attach the proof {request.fund_type.name} requires: {', '.join(missing).lower()}.",
            "proofs",
        )
    claim.status = Status.SUBMITTED
    claim.submitted_at = now
    claim.submitted_by = by.user
    start_clock(claim, now)
    claim.save()
    request.status = FundRequest.Status.CLAIMED
    request.save(update_fields=["status", "updated_at"])
    duplicates = flag_duplicates(claim)
    record_event(
        request,
        Kind.CLAIM_SUBMITTED,
        by=by.user,
        claim=claim,
        now=now,
        data={"claimed": str(claim.claimed_amount), "duplicates": duplicates},
    )
    audit(claim.tenant, by=by.user, action="mdf.claim_submitted", obj=claim, now=now)
    finish_tasks(request, CLAIM, now=now)
    reviewers = staff(Role.FINANCE) or staff(Role.OPS_ADMIN)
    notify(
        claim.tenant,
        [*reviewers, request.approver],
        kind="mdf.claim_submitted",
        title=f"Claim {claim.code} to review by {fmt.moment(claim.due_at, claim.tenant.tzinfo)}: "
        f"{claim.partner.name}, {counters.money(claim.claimed_amount, claim.tenant)}"
        + (f" (same invoice as {', '.join(duplicates)})" if duplicates else ""),
        url=admin_claim_url(claim),
        about=claim,
        task=REVIEW,
    )


def _claim_answered(claim: Claim, *, by: Membership, message: str, now: datetime) -> None:
    claim.status = Status.SUBMITTED
    start_clock(claim, now)
    claim.save()
    flag_duplicates(claim)
    record_event(
        claim.request, Kind.CLAIM_INFO_PROVIDED, by=by.user, claim=claim, message=message, now=now
    )
    finish_tasks(claim, ANSWER, now=now)
    notify(
        claim.tenant,
        [claim.decided_by] if claim.decided_by else staff(Role.FINANCE),
        kind="mdf.claim_info_provided",
        title=f"{claim.partner.name} answered your questions on claim {claim.code}",
        body=message,
        url=admin_claim_url(claim),
        about=claim,
        task=REVIEW,
    )


def provide_claim_info(
    claim: Claim, *, by: Membership, message: str, now: datetime | None = None
) -> Claim:
    now = resolve_now(now)
    if not message.strip():
        raise MdfError("Write your answer.", "message")
    with transaction.atomic():
        claim = lock_claim(claim)
        require_partner(by, claim.partner_id)
        require_status(claim, (Status.MORE_INFO,), "answered")
        _claim_answered(claim, by=by, message=message.strip(), now=now)
    return claim


def request_claim_info(
    claim: Claim, *, by: Membership, message: str, now: datetime | None = None
) -> Claim:
    now = resolve_now(now)
    message = message.strip()
    if not message:
        raise MdfError("Write what you need to know.", "message")
    with transaction.atomic():
        claim = lock_claim(claim)
        if not (by.has_perm(DECIDE_PERM, claim) or by.has_perm(VERIFY_PERM, claim)):
            raise MdfError("Only finance, ops or the partner's channel manager may ask.")
        require_status(claim, (Status.SUBMITTED,), "sent back for information")
        claim.status = Status.MORE_INFO
        claim.decided_by = by.user
        claim.next_check_at = None
        claim.save()
        record_event(
            claim.request,
            Kind.CLAIM_INFO_REQUESTED,
            by=by.user,
            claim=claim,
            message=message,
            now=now,
        )
        finish_tasks(claim, REVIEW, now=now)
        notify(
            claim.tenant,
            partner_people(claim.partner_id, claim.submitted_by),
            kind="mdf.claim_info_requested",
            title=f"The vendor asks about claim {claim.code}",
            body=message,
            url=portal_url(claim.request),
            about=claim,
            task=ANSWER,
        )
    return claim


def verify_claim(
    claim: Claim, *, by: Membership, note: str = "", now: datetime | None = None
) -> Claim:
    """The partner's channel manager confirms the activity took place as
    the proof shows (finance sees it when deciding)."""
    now = resolve_now(now)
    with transaction.atomic():
        claim = lock_claim(claim)
        require_perm(
            by, VERIFY_PERM, claim, "Only the partner's channel manager may check the proof."
        )
        require_status(claim, (Status.SUBMITTED,), "checked")
        claim.verified_by = by.user
        claim.verified_at = now
        claim.save(update_fields=["verified_by", "verified_at", "updated_at"])
        record_event(
            claim.request,
            Kind.CLAIM_VERIFIED,
            by=by.user,
            claim=claim,
            message=note.strip(),
            now=now,
            visible=False,
        )
    return claim


def reimbursement_for(claim: Claim, approved_cost: Decimal) -> Decimal:
    """Approved cost times the fund's reimbursement %, never more than claimed
    (nor, therefore, than approved for the activity)."""
    request = claim.request
    amount = counters.round_money(
        approved_cost * request.reimbursement_percent / 100, claim.tenant.base_currency
    )
    return min(amount, claim.claimed_amount)


def approve_claim(
    claim: Claim,
    *,
    by: Membership,
    approved_cost: Decimal | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Claim:
    """Approve in full (``approved_cost`` None: the actual cost) or in part
    (with a reason). The activity's reservation becomes ``claimed`` for the
    reimbursement (any remainder goes back, or expires with the period), and
    the reimbursement is written to the ledger once (its idempotency key)."""
    now = resolve_now(now)
    reason = reason.strip()
    tenant = claim.tenant
    with transaction.atomic():
        request = lock_request(claim.request)
        claim = lock_claim(claim)
        require_perm(by, DECIDE_PERM, claim, "Only finance or ops may decide claims.")
        require_status(claim, (Status.SUBMITTED,), "approved")
        cost = claim.total_cost if approved_cost is None else approved_cost
        if cost <= 0:
            raise MdfError(
                "Approve a cost greater than zero, or reject the claim.", "approved_cost"
            )
        if cost > claim.total_cost:
            raise MdfError(
                f"The approved cost cannot exceed the actual cost claimed "
                f"({counters.money(claim.total_cost, tenant)}).",
                "approved_cost",
            )
        amount = reimbursement_for(claim, cost)
        if amount <= 0:
            raise MdfError("That approves nothing: reject the claim instead.", "approved_cost")
        if amount < claim.claimed_amount and not reason:
            raise MdfError("Say why you approve less than was claimed.", "reason")
        reserved = request.reserved
        allocation = request.allocation
        # The reservation becomes the claimed amount; what is left of it is released.
        counters.move(
            allocation,
            counters.Change.CLAIMED,
            amount,
            by=by.user,
            request=request,
            reason=f"{claim.code} approved",
            refusal="The claim would take the allocation past its amount.",
            now=now,
            counters={"reserved": -min(reserved, amount), "claimed": amount},
        )
        if reserved > amount:
            counters.release(
                allocation,
                reserved - amount,
                by=by.user,
                request=request,
                reason=f"{claim.code} approved for less than was reserved.",
                now=now,
            )
        request.reserved = ZERO
        request.status = FundRequest.Status.CLAIMED
        request.save(update_fields=["reserved", "status", "updated_at"])
        claim.status = Status.APPROVED
        claim.approved_cost = cost
        claim.reimbursement_amount = amount
        claim.decided_at = now
        claim.decided_by = by.user
        claim.decision_reason = reason
        claim.next_check_at = None
        claim.save()
        today = tenant.local_today(now)
        ledger.lock_partner(claim.partner_id)
        entry = ledger.write(
            tenant,
            ledger.NewEntry(
                partner_id=claim.partner_id,
                kind=LedgerEntry.Kind.REIMBURSEMENT,
                amount=amount,
                currency=tenant.base_currency,
                fx_rate=Decimal(1),
                source=LedgerEntry.Source.MDF_CLAIM,
                effective_date=today,
                available_on=today,
                description=f"MDF reimbursement {claim.code}: {request.title}",
                idempotency_key=f"mdf:claim:{claim.pk}",
                created_via="mdf.approve_claim",
                created_by=by.user,
            ),
            now=now,
        )
        Reimbursement.objects.create(
            tenant=tenant, claim=claim, entry=entry, amount=amount, created_at=now
        )
        partial = amount < claim.claimed_amount
        record_event(
            request,
            Kind.CLAIM_APPROVED,
            by=by.user,
            claim=claim,
            message=reason,
            now=now,
            data={"approved_cost": str(cost), "reimbursement": str(amount)},
        )
        audit(
            tenant,
            by=by.user,
            action="mdf.claim_approved",
            obj=claim,
            now=now,
            data={"reimbursement": str(amount), "entry": str(entry.pk)},
        )
        finish_tasks(claim, REVIEW, ANSWER, now=now)
        events.claim_decided(claim, "claim.approved", now)
        notify(
            tenant,
            partner_people(claim.partner_id, claim.submitted_by),
            kind="mdf.claim_approved",
            title=f"Claim {claim.code} approved: {counters.money(amount, tenant)} will be paid"
            + (" (part of what you claimed)" if partial else ""),
            body=reason,
            url=portal_url(request),
        )
    return claim


def reject_claim(
    claim: Claim, *, by: Membership, reason: str, now: datetime | None = None
) -> Claim:
    """Reject with a reason. The activity's reservation stays: the partner
    may claim again (with better proof) while the claim window is open."""
    now = resolve_now(now)
    reason = reason.strip()
    if not reason:
        raise MdfError("Give the partner the reason for the rejection.", "reason")
    with transaction.atomic():
        request = lock_request(claim.request)
        claim = lock_claim(claim)
        require_perm(by, DECIDE_PERM, claim, "Only finance or ops may decide claims.")
        require_status(claim, (Status.SUBMITTED, Status.MORE_INFO), "rejected")
        claim.status = Status.REJECTED
        claim.decided_at = now
        claim.decided_by = by.user
        claim.decision_reason = reason
        claim.next_check_at = None
        claim.save()
        request.status = FundRequest.Status.APPROVED
        request.save(update_fields=["status", "updated_at"])
        record_event(request, Kind.CLAIM_REJECTED, by=by.user, claim=claim, message=reason, now=now)
        audit(claim.tenant, by=by.user, action="mdf.claim_rejected", obj=claim, now=now)
        finish_tasks(claim, REVIEW, ANSWER, now=now)
        events.claim_decided(claim, "claim.rejected", now)
        notify(
            claim.tenant,
            partner_people(claim.partner_id, claim.submitted_by),
            kind="mdf.claim_rejected",
            title=f"Claim {claim.code} was not approved"
            + (
                f"; you may claim again by {fmt.day(request.claim_deadline)}"
                if request.claim_deadline
                else ""
            ),
            body=reason,
            url=portal_url(request),
        )
    return claim


def withdraw_claim(claim: Claim, *, by: Membership, now: datetime | None = None) -> Claim:
    now = resolve_now(now)
    with transaction.atomic():
        request = lock_request(claim.request)
        claim = lock_claim(claim)
        require_partner(by, claim.partner_id)
        require_status(claim, (Status.DRAFT, Status.SUBMITTED, Status.MORE_INFO), "withdrawn")
        claim.status = Status.WITHDRAWN
        claim.next_check_at = None
        claim.save()
        # The other claims with the same invoice no longer name this one.
        flag_duplicates(claim)
        if request.status == FundRequest.Status.CLAIMED:
            request.status = FundRequest.Status.APPROVED
            request.save(update_fields=["status", "updated_at"])
        record_event(
            request,
            Kind.CANCELLED,
            by=by.user,
            claim=claim,
            now=now,
            message=f"Claim {claim.code} withdrawn.",
        )
        finish_tasks(claim, REVIEW, ANSWER, now=now)
    return claim


def paid_on(claim: Claim) -> date | None:
    """When the payout run that settled the claim's reimbursement was paid."""
    try:
        entry = claim.reimbursement.entry
    except Reimbursement.DoesNotExist:
        return None
    settlement = getattr(entry, "settlement", None)
    return settlement.paid_on if settlement is not None else None


def proofs_of(claim: Claim) -> list[ProofFile]:
    return list(claim.proofs.all())


def is_visible_to(by: Membership, claim: Claim) -> bool:
    return is_partner_member(by, claim.partner_id) or by.has_perm("mdf.view_claim", claim)


__all__ = [
    "ClaimData",
    "approve_claim",
    "is_visible_to",
    "paid_on",
    "provide_claim_info",
    "reject_claim",
    "request_claim_info",
    "save_claim",
    "submit_claim",
    "verify_claim",
    "withdraw_claim",
]
