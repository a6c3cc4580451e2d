"""Partner portal "Funds": the organisation's allocations and activities.

Partner users and partner admins see and act on every fund request and
claim of their organisation. A code that is unknown, another partner's or
another tenant's answers 404; staff (who work on requests and claims in
the admin) get 403. This module holds the overview, the list of requests
and what the other portal views share (lookups, deadlines, money bars);
``views_requests`` the request form and page, ``views_claims`` the claims.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, QuerySet, Sum
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from prm import format as fmt
from prm.tenancy.access import member_object, role_required
from prm.tenancy.codes import normalize_code
from prm.tenancy.params import filter_notices, page_of
from prm.tenancy.requests import MemberRequest

from .forms import RequestFilterForm
from .models import Allocation, Claim, FundRequest, Reimbursement

PERM = "portal.mdf"
PAGE_SIZE = 25
# Activities the overview lists (the full list is paginated).
OVERVIEW_ACTIVITIES = 10
# A deadline this close is drawn as a warning; a past one (or under a
# day or so) as an alert.
SOON_DAYS = 14
URGENT_DAYS = 3
ZERO = Decimal("0")
Status = FundRequest.Status
ClaimStatus = Claim.Status


# --- Lookups ----------------------------------------------------------------------------


def _requests() -> QuerySet[FundRequest]:
    return FundRequest.objects.select_related(
        "partner", "fund_type", "allocation__budget", "submitted_by"
    )


def _claims() -> QuerySet[Claim]:
    return Claim.objects.select_related(
        "partner",
        "request__fund_type",
        "request__allocation__budget",
        "submitted_by",
    )


# A view of one of the organisation's fund requests (or claims), by its code.
request_view = member_object(_requests, perm=PERM, lookup="code", normalize=normalize_code)
claim_view = member_object(_claims, perm=PERM, lookup="code", normalize=normalize_code)


def request_url(request: FundRequest, anchor: str = "") -> str:
    url = reverse("mdf:request", args=[request.code])
    return f"{url}#{anchor}" if anchor else url


def claim_url(claim: Claim, anchor: str = "") -> str:
    url = reverse("mdf:claim", args=[claim.code])
    return f"{url}#{anchor}" if anchor else url


# --- Deadlines --------------------------------------------------------------------------


@dataclass
class Deadline:
    """What a row's next date is, in words, with its tone (ok, warn, bad,
    muted) for the chip the page draws it in."""

    label: str
    when: str = ""
    tone: str = "muted"


def _tone_for(days_left: int) -> str:
    if days_left <= URGENT_DAYS:
        return "bad"
    return "warn" if days_left <= SOON_DAYS else "ok"


def latest_claim(request: FundRequest) -> Claim | None:
    """The request's newest claim, from the prefetched claims (newest first)."""
    claims = list(request.claims.all())
    return claims[0] if claims else None


def deadline(request: FundRequest, today: date, now: datetime) -> Deadline:
    """The next date the partner should know about for ``request``."""
    status = request.status
    if status == Status.DRAFT:
        return Deadline("Not submitted yet")
    if status == Status.SUBMITTED and request.due_at:
        hours = (request.due_at - now).total_seconds() / 3600
        tone = "bad" if hours < 0 else ("warn" if hours < 24 else "info")
        return Deadline("Decision due", fmt.moment(request.due_at), tone)
    if status == Status.MORE_INFO:
        return Deadline("Waiting for your answer", "", "warn")
    if status == Status.APPROVED and request.claim_deadline:
        if today < request.ends_on:
            return Deadline(
                "Claim after the activity, by",
                fmt.day(request.claim_deadline),
                "info",
            )
        left = (request.claim_deadline - today).days
        if left < 0:
            return Deadline("Claim window closed on", fmt.day(request.claim_deadline), "bad")
        return Deadline("Claim by", fmt.day(request.claim_deadline), _tone_for(left))
    if status == Status.CLAIMED:
        claim = latest_claim(request)
        if claim is not None and claim.status == ClaimStatus.MORE_INFO:
            return Deadline("Claim: waiting for your answer", "", "warn")
        if claim is not None and claim.status == ClaimStatus.SUBMITTED and claim.due_at:
            return Deadline("Claim decision due", fmt.moment(claim.due_at), "info")
    return Deadline("—")


# --- Money bars -------------------------------------------------------------------------


@dataclass
class Segment:
    key: str
    label: str
    amount: Decimal
    x: str = "0"
    width: str = "0"


@dataclass
class FundsRow:
    """An allocation as the overview shows it: its counters, what of the
    claimed money was paid, and the bar's segments."""

    allocation: Allocation
    paid: Decimal
    segments: list[Segment] = field(default_factory=list)
    expiry_tone: str = ""
    accrued: bool = False

    @property
    def budget(self) -> Any:
        return self.allocation.budget

    @property
    def summary(self) -> str:
        """The bar in words (its accessible name)."""
        currency = self.budget.currency
        parts = [f"{s.label} {fmt.money(s.amount, currency)}" for s in self.segments if s.amount]
        total = fmt.money(self.allocation.amount, currency)
        return f"{total}: " + (", ".join(parts) if parts else "nothing used")


def _coordinate(value: Decimal) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def bar_segments(amount: Decimal, parts: list[tuple[str, str, Decimal]]) -> list[Segment]:
    """Stacked segments in percent of ``amount`` (an SVG's 0-100 box)."""
    segments = []
    x = ZERO
    for key, label, value in parts:
        value = max(value, ZERO)
        width = (value * 100 / amount) if amount > 0 else ZERO
        width = min(width, Decimal(100) - x)
        segments.append(Segment(key, label, value, _coordinate(x), _coordinate(width)))
        x += width
    return segments


def funds_rows(partner_id: Any, today: date) -> list[FundsRow]:
    """The partner's allocations (periods that ended over a year ago left
    out), with paid amounts: two queries, whatever the number of rows."""
    allocations = list(
        Allocation.objects.filter(
            partner_id=partner_id, budget__ends_on__gte=today - timedelta(days=365)
        )
        .select_related("budget__fund_type")
        .order_by("-budget__starts_on", "budget__fund_type__name", "pk")
    )
    paid = dict(
        Reimbursement.objects.filter(
            claim__partner_id=partner_id,
            claim__request__allocation__in=[a.pk for a in allocations],
            entry__settlement__paid_on__isnull=False,
        )
        .values("claim__request__allocation_id")
        .annotate(total=Sum("amount"))
        .values_list("claim__request__allocation_id", "total")
    )
    rows = []
    for allocation in allocations:
        paid_amount = min(paid.get(allocation.pk, ZERO), allocation.claimed)
        row = FundsRow(allocation, paid_amount, accrued=allocation.budget.fund_type.is_accrual)
        row.segments = bar_segments(
            allocation.amount,
            [
                ("paid", "paid", paid_amount),
                ("claimed", "claimed, not paid yet", allocation.claimed - paid_amount),
                ("reserved", "reserved", allocation.reserved),
                ("available", "available", allocation.available),
                ("expired", "expired", allocation.expired),
            ],
        )
        ends = allocation.budget.ends_on
        if allocation.available > 0 and ends >= today:
            left = (ends - today).days
            row.expiry_tone = "bad" if left <= 7 else ("warn" if left <= 30 else "")
        rows.append(row)
    return rows


def group_by_period(rows: list[FundsRow]) -> list[dict[str, Any]]:
    groups: dict[tuple[date, date], dict[str, Any]] = {}
    for row in rows:
        budget = row.budget
        key = (budget.starts_on, budget.ends_on)
        group = groups.setdefault(
            key,
            {
                "label": budget.period_label,
                "starts_on": budget.starts_on,
                "ends_on": budget.ends_on,
                "rows": [],
            },
        )
        group["rows"].append(row)
    return list(groups.values())


def with_claims(requests: QuerySet[FundRequest]) -> QuerySet[FundRequest]:
    """Requests with their claims (newest first) and each claim's payment."""
    return requests.select_related("fund_type").prefetch_related(
        Prefetch(
            "claims",
            queryset=Claim.objects.select_related("reimbursement__entry__settlement").order_by(
                "-created_at", "-pk"
            ),
        )
    )


def claim_paid_on(claim: Claim) -> date | None:
    """``claims.paid_on`` from what ``with_claims`` loaded (no query)."""
    try:
        reimbursement = claim.reimbursement
    except Reimbursement.DoesNotExist:
        return None
    settlement = getattr(reimbursement.entry, "settlement", None)
    return settlement.paid_on if settlement is not None else None


def activity_rows(requests: list[FundRequest], today: date) -> list[dict[str, Any]]:
    now = timezone.now()
    rows = []
    for req in requests:
        claim = latest_claim(req)
        rows.append(
            {
                "request": req,
                "deadline": deadline(req, today, now),
                "claim": claim,
                "paid_on": claim_paid_on(claim) if claim is not None else None,
            }
        )
    return rows


def status_counts(requests: QuerySet[FundRequest]) -> list[dict[str, Any]]:
    counts = dict(requests.order_by().values_list("status").annotate(n=Count("pk")))
    return [
        {"status": value, "label": label, "count": counts.get(value, 0)}
        for value, label in Status.choices
    ]


def _totals(rows: list[FundsRow], today: date) -> dict[str, Decimal]:
    """What can still be used (open periods), and what was claimed and paid
    (every period on the page, as the bars below show)."""
    live = [r for r in rows if r.budget.ends_on >= today]
    return {
        "available": sum((r.allocation.available for r in live), ZERO),
        "reserved": sum((r.allocation.reserved for r in live), ZERO),
        "claimed": sum((r.allocation.claimed for r in rows), ZERO),
        "paid": sum((r.paid for r in rows), ZERO),
    }


# --- Pages ------------------------------------------------------------------------------


@role_required(PERM)
def funds(request: MemberRequest) -> HttpResponse:
    """What the organisation has, where it stands, and its activities."""
    partner_id = request.membership.partner_id
    assert partner_id is not None  # PERM is a partner permission
    today = request.tenant.local_today()
    rows = funds_rows(partner_id, today)
    mine = FundRequest.objects.filter(partner_id=partner_id)
    counts = status_counts(mine)
    recent = list(with_claims(mine).order_by("-created_at", "-pk")[:OVERVIEW_ACTIVITIES])
    return render(
        request,
        "mdf/funds.html",
        {
            "periods": group_by_period(rows),
            "totals": _totals(rows, today),
            "currency": request.tenant.base_currency,
            "activities": activity_rows(recent, today),
            "counts": [c for c in counts if c["count"]],
            "total_requests": sum(c["count"] for c in counts),
            "can_request": any(
                r.allocation.available > 0 and r.budget.ends_on >= today for r in rows
            ),
        },
    )


@role_required(PERM)
def request_list(request: MemberRequest) -> HttpResponse:
    assert request.membership.partner_id is not None  # PERM is a partner permission
    mine = FundRequest.objects.filter(partner_id=request.membership.partner_id)
    filters = RequestFilterForm(request.GET)
    filter_notices(request, filters)
    rows = with_claims(filters.filter(mine)).order_by("-created_at", "-pk")
    page = page_of(request, Paginator(rows, PAGE_SIZE))
    today = request.tenant.local_today()
    return render(
        request,
        "mdf/request_list.html",
        {
            "filters": filters,
            "page_obj": page,
            "activities": activity_rows(list(page.object_list), today),
            "counts": status_counts(mine),
            "active_status": filters.cleaned_data.get("status", ""),
        },
    )
