"""MDF objects for tests, written straight through the ORM (the counters
kept consistent by hand): a fund type, a budget, an allocation, an
approved fund request and a claim against it. Call inside the tenant's
scope."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from mdf.duplicates import normalize_invoice_number, normalize_supplier
from mdf.models import Allocation, Budget, Claim, ClaimLine, FundRequest, FundType
from partners.models import Partner
from prm.tenancy.models import User

_seq = itertools.count(1)


def make_fund_type(tenant, name: str = "MDF", **fields) -> FundType:
    found = FundType.objects.filter(tenant=tenant, name=name).first()
    if found is not None:
        return found
    fields.setdefault("reimbursement_percent", Decimal(50))
    fields.setdefault("activity_types", ["event", "webinar"])
    return FundType.objects.create(tenant=tenant, name=name, **fields)


def make_budget(tenant, fund_type: FundType | None = None, amount=Decimal(10_000_000)) -> Budget:
    fund_type = fund_type or make_fund_type(tenant)
    found = Budget.objects.filter(tenant=tenant, fund_type=fund_type).first()
    if found is not None:
        return found
    year = date.today().year
    return Budget.objects.create(
        tenant=tenant,
        fund_type=fund_type,
        span=Budget.Span.YEAR,
        fiscal_year=year,
        number=1,
        starts_on=date(year, 1, 1),
        ends_on=date(year, 12, 31),
        amount=amount,
        currency=tenant.base_currency,
    )


def make_allocation(partner: Partner, amount=Decimal(1_000_000), budget: Budget | None = None):
    budget = budget or make_budget(partner.tenant)
    found = Allocation.objects.filter(budget=budget, partner=partner).first()
    if found is not None:
        return found
    allocation = Allocation.objects.create(
        tenant=partner.tenant, budget=budget, partner=partner, amount=amount
    )
    Budget.objects.filter(pk=budget.pk).update(allocated=F("allocated") + amount)
    return allocation


def make_request(
    partner: Partner, by: User, *, approved=Decimal(5000), title: str | None = None
) -> FundRequest:
    """An approved fund request of ``partner``, its amount reserved."""
    allocation = make_allocation(partner)
    fund_type = allocation.budget.fund_type
    starts = date.today() - timedelta(days=20)
    request = FundRequest.objects.create(
        tenant=partner.tenant,
        partner=partner,
        allocation=allocation,
        fund_type=fund_type,
        period_start=allocation.budget.starts_on,
        activity_type="event",
        title=title or f"Activity {next(_seq)}",
        starts_on=starts,
        ends_on=starts + timedelta(days=1),
        description="A customer event.",
        currency=partner.tenant.base_currency,
        total_cost=approved * 2,
        reimbursement_percent=fund_type.reimbursement_percent,
        requested_amount=approved,
        approved_amount=approved,
        reserved=approved,
        status=FundRequest.Status.APPROVED,
        submitted_by=by,
        submitted_at=timezone.now() - timedelta(days=30),
        decided_at=timezone.now() - timedelta(days=28),
        claim_deadline=date.today() + timedelta(days=40),
    )
    Allocation.objects.filter(pk=allocation.pk).update(reserved=F("reserved") + approved)
    return request


def make_claim(
    partner: Partner,
    by: User,
    *,
    supplier: str = "Acme Events Inc.",
    invoice_number: str | None = None,
    invoice_date: date | None = None,
    total_cost=Decimal("4000.00"),
    status: str = Claim.Status.SUBMITTED,
    request: FundRequest | None = None,
) -> Claim:
    """A claim of ``partner`` against a new approved request (one live
    claim per request), with one cost line of ``total_cost``."""
    request = request or make_request(partner, by)
    number = invoice_number or f"INV-{next(_seq):05d}"
    claim = Claim.objects.create(
        tenant=partner.tenant,
        request=request,
        partner=partner,
        status=status,
        invoice_number=number,
        invoice_date=invoice_date or date.today() - timedelta(days=10),
        supplier=supplier,
        supplier_normalized=normalize_supplier(supplier),
        invoice_number_normalized=normalize_invoice_number(number),
        total_cost=total_cost,
        claimed_amount=min(total_cost / 2, request.approved_amount),
        submitted_by=by,
        submitted_at=None if status == Claim.Status.DRAFT else timezone.now(),
    )
    ClaimLine.objects.create(
        tenant=partner.tenant, claim=claim, description="Venue", amount=total_cost
    )
    return claim
