"""MDF rows stored as they end up, straight through the ORM (no workflow):
what the ROI, metrics, sourcing and leads tests need, whatever state the
services would have walked them through."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal

from dealreg.models import DealRegistration
from mdf.models import Allocation, Budget, Claim, FundRequest, FundType, SourcedDeal
from prm.tenancy.roles import Role

_seq = itertools.count(1)


def D(value) -> Decimal:
    return Decimal(str(value))


def make_fund_type(world, name: str | None = None, percent="50") -> FundType:
    return FundType.objects.create(
        tenant=world.tenant,
        name=name or f"MDF {next(_seq)}",
        reimbursement_percent=D(percent),
        activity_types=["event", "webinar"],
    )


def make_budget(
    world,
    fund_type: FundType,
    *,
    starts_on=date(2026, 1, 1),
    ends_on=date(2026, 3, 31),
    amount="100000",
    number=1,
) -> Budget:
    return Budget.objects.create(
        tenant=world.tenant,
        fund_type=fund_type,
        span=Budget.Span.QUARTER,
        fiscal_year=ends_on.year,
        number=number,
        starts_on=starts_on,
        ends_on=ends_on,
        amount=D(amount),
        currency=world.tenant.base_currency,
    )


def make_allocation(world, budget: Budget, partner=None, amount="10000") -> Allocation:
    allocation = Allocation.objects.create(
        tenant=world.tenant, budget=budget, partner=partner or world.partner, amount=D(amount)
    )
    Budget.objects.filter(pk=budget.pk).update(allocated=budget.allocated + D(amount))
    return allocation


def make_request(
    world,
    allocation: Allocation,
    *,
    status=FundRequest.Status.APPROVED,
    requested="2000",
    approved="2000",
    title: str | None = None,
    decided_at: datetime | None = None,
) -> FundRequest:
    budget = allocation.budget
    member = world[Role.PARTNER_USER]
    approved_amount = D(approved) if status in APPROVED_LIKE else None
    request = FundRequest.objects.create(
        tenant=world.tenant,
        partner=allocation.partner,
        allocation=allocation,
        fund_type=budget.fund_type,
        period_start=budget.starts_on,
        activity_type="event",
        title=title or f"Activity {next(_seq)}",
        starts_on=budget.starts_on,
        ends_on=budget.starts_on,
        description="An activity",
        currency=world.tenant.base_currency,
        total_cost=D(requested) * 2,
        reimbursement_percent=budget.fund_type.reimbursement_percent,
        requested_amount=D(requested),
        approved_amount=approved_amount,
        reserved=approved_amount if status == FundRequest.Status.APPROVED else 0,
        status=status,
        submitted_by=member.user,
        submitted_at=decided_at,
        decided_at=decided_at,
    )
    if status == FundRequest.Status.APPROVED:
        Allocation.objects.filter(pk=allocation.pk).update(reserved=approved_amount)
    return request


APPROVED_LIKE = (
    FundRequest.Status.APPROVED,
    FundRequest.Status.CLAIMED,
    FundRequest.Status.CLOSED,
)


def make_claim(
    world,
    request: FundRequest,
    *,
    status=Claim.Status.APPROVED,
    cost="4000",
    reimbursement="2000",
    leads=0,
    submitted_at: datetime | None = None,
    decided_at: datetime | None = None,
) -> Claim:
    n = next(_seq)
    approved = status == Claim.Status.APPROVED
    claim = Claim.objects.create(
        tenant=world.tenant,
        request=request,
        partner=request.partner,
        status=status,
        invoice_number=f"INV-{n}",
        invoice_number_normalized=f"inv{n}",
        invoice_date=request.ends_on,
        supplier="Venue Ltd",
        supplier_normalized="venue ltd",
        total_cost=D(cost),
        claimed_amount=D(reimbursement),
        leads=leads,
        submitted_by=world[Role.PARTNER_USER].user,
        submitted_at=submitted_at,
        approved_cost=D(cost) if approved else None,
        reimbursement_amount=D(reimbursement) if approved else None,
        decided_at=decided_at,
    )
    if approved:
        FundRequest.objects.filter(pk=request.pk).update(
            status=FundRequest.Status.CLAIMED, reserved=0
        )
        Allocation.objects.filter(pk=request.allocation_id).update(
            reserved=0, claimed=D(reimbursement)
        )
    return claim


def make_registration(
    world,
    *,
    partner=None,
    status=DealRegistration.Status.APPROVED,
    value="10000",
    currency=None,
    won=None,
    won_currency=None,
    won_on=date(2026, 3, 20),
) -> DealRegistration:
    n = next(_seq)
    fields = {}
    if won is not None:
        fields = {
            "won_amount": D(won),
            "won_currency": won_currency or world.tenant.base_currency,
            "won_close_date": won_on,
        }
    return DealRegistration.objects.create(
        tenant=world.tenant,
        partner=partner or world.partner,
        submitted_by=world[Role.PARTNER_USER].user,
        customer_name=f"Sourced customer {n}",
        customer_name_normalized=f"sourced customer {n}",
        customer_country="US",
        estimated_value=D(value),
        currency=currency or world.tenant.base_currency,
        expected_close_date=date(2026, 6, 30),
        status=status,
        **fields,
    )


def source(world, registration: DealRegistration, request: FundRequest) -> SourcedDeal:
    return SourcedDeal.objects.create(
        tenant=world.tenant, registration=registration, request=request
    )


def reimburse(world, claim: Claim, *, now: datetime | None = None):
    """The ledger entry an approved claim writes (as ``mdf.claims`` does),
    and its ``Reimbursement`` link."""
    from incentives import ledger
    from incentives.models import LedgerEntry
    from mdf.models import Reimbursement

    day = (now.date() if now else claim.decided_at.date()) if claim.decided_at or now else None
    entry = ledger.write(
        world.tenant,
        ledger.NewEntry(
            partner_id=claim.partner_id,
            kind=LedgerEntry.Kind.REIMBURSEMENT,
            amount=claim.reimbursement_amount,
            currency=world.tenant.base_currency,
            fx_rate=ledger.ONE,
            source=LedgerEntry.Source.MDF_CLAIM,
            effective_date=day,
            available_on=day,
            description=f"MDF claim {claim.code}",
            idempotency_key=f"mdf:claim:{claim.pk}",
            created_via="tests.mdf.factories",
        ),
        now=now or claim.decided_at,
    )
    Reimbursement.objects.create(
        tenant=world.tenant, claim=claim, entry=entry, amount=claim.reimbursement_amount
    )
    return entry
