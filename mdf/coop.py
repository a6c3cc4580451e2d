"""Co-op accruals: a fund type with ``accrual`` funding fills each
partner's allocation with a share of their won deals.

A deal accrues to the most specific budget covering its close date whose
region and tier the partner fits; as everywhere in MDF (``funds``), a
budget limited to a tier counts the tier the partner held on the budget's
first day, not the tier it holds today."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from dealreg.models import DealRegistration
from incentives.ledger import NoRate, rate_on
from partners.models import Partner
from partners.tiers import timelines

from .counters import ZERO, Change, move, round_money
from .models import Allocation, Budget, CoopAccrual, FundType
from .workflow import resolve_now


def _accrual_budget(fund_type: FundType, partner: Partner, day: date) -> Budget | None:
    """The most specific budget of ``fund_type`` covering ``day`` that the
    partner's region and tier (held on the budget's first day) fit."""
    covering = Budget.objects.filter(fund_type=fund_type, starts_on__lte=day, ends_on__gte=day)
    budgets = list(covering.filter(Q(region__isnull=True) | Q(region_id=partner.region_id)))
    if any(b.tier_id for b in budgets):
        line = timelines([partner])[partner.pk]
        budgets = [b for b in budgets if b.tier_id is None or b.tier_id == line.on(b.starts_on)]
    return min(
        budgets, key=lambda b: (b.region_id is None, b.tier_id is None, b.starts_on), default=None
    )


def sync_coop(registration: DealRegistration, *, now: datetime | None = None) -> list[CoopAccrual]:
    """Bring the co-op accruals of ``registration`` in line with its
    outcome: a won deal accrues each co-op fund type's percentage of its won
    amount (base currency, at the rate on the close date) to the partner's
    allocation of the budget covering the close date; a reversed or
    corrected win is offset by a negative row. Idempotent: rows sum to what
    should have accrued, so running it again writes nothing. Capped by the
    budget (what it cannot hold is not accrued) and, on reversal, by what is
    still unspent."""
    now = resolve_now(now)
    tenant = registration.tenant
    written: list[CoopAccrual] = []
    fund_types = list(FundType.objects.filter(funding=FundType.Funding.ACCRUAL, active=True))
    if not fund_types:
        return written
    with transaction.atomic():
        registration = (
            DealRegistration.objects.select_for_update()
            .select_related("partner")
            .get(pk=registration.pk)
        )
        # The close date of a won deal with an amount (else None: nothing accrues).
        won_on: date | None = None
        base = ZERO
        if registration.status == DealRegistration.Status.WON and registration.won_amount:
            # A won deal has both: recording or correcting a win sets them
            # (dealreg.protection).
            assert registration.won_close_date is not None
            won_on = registration.won_close_date
            try:
                base = round_money(
                    registration.won_amount * rate_on(tenant, registration.won_currency, won_on),
                    tenant.base_currency,
                )
            except NoRate:
                base = ZERO
        for fund_type in fund_types:
            percent = fund_type.accrual_percent
            # Co-op funding has a percentage (constraint mdf_fundtype_accrual_percent).
            assert percent is not None
            rows = list(
                CoopAccrual.objects.filter(
                    registration=registration, allocation__budget__fund_type=fund_type
                ).select_related("allocation")
            )
            held: dict[Any, Decimal] = {}
            for row in rows:
                held[row.allocation_id] = held.get(row.allocation_id, ZERO) + row.amount
            sequence = max((r.sequence for r in rows), default=0)
            budget = (
                _accrual_budget(fund_type, registration.partner, won_on)
                if won_on is not None
                else None
            )
            desired = (
                round_money(base * percent / 100, tenant.base_currency)
                if budget is not None
                else ZERO
            )
            target = None
            if budget is not None:
                target, _ = Allocation.objects.get_or_create(
                    tenant_id=tenant.pk,
                    budget=budget,
                    partner=registration.partner,
                    defaults={"source": Allocation.Source.ACCRUAL},
                )
            for allocation_id, amount in held.items():
                keep = desired if target is not None and allocation_id == target.pk else ZERO
                if amount == keep:
                    continue
                allocation = Allocation.objects.select_for_update().get(pk=allocation_id)
                delta = keep - amount
                if delta < 0:
                    delta = max(delta, -allocation.available)
                if delta == 0:
                    continue
                if delta > 0:
                    room = allocation.budget.amount - allocation.budget.allocated
                    delta = min(delta, room)
                    if delta <= 0:
                        continue
                sequence += 1
                move(
                    allocation,
                    Change.ACCRUED if delta > 0 else Change.ACCRUAL_REVERSED,
                    delta,
                    by=None,
                    reason=f"{registration.code} {registration.customer_name}",
                    refusal="The co-op budget is used up.",
                    now=now,
                    counters={"amount": delta},
                )
                written.append(
                    CoopAccrual.objects.create(
                        tenant_id=tenant.pk,
                        registration=registration,
                        allocation=allocation,
                        sequence=sequence,
                        amount=delta,
                        basis_amount=base,
                        created_at=now,
                    )
                )
            if target is not None and target.pk not in held and desired > 0:
                target = (
                    Allocation.objects.select_for_update()
                    .select_related("budget")
                    .get(pk=target.pk)
                )
                budget = Budget.objects.select_for_update().get(pk=target.budget_id)
                amount = min(desired, budget.amount - budget.allocated)
                if amount > 0:
                    sequence += 1
                    move(
                        target,
                        Change.ACCRUED,
                        amount,
                        by=None,
                        reason=f"{registration.code} {registration.customer_name}",
                        refusal="The co-op budget is used up.",
                        now=now,
                        counters={"amount": amount},
                    )
                    written.append(
                        CoopAccrual.objects.create(
                            tenant_id=tenant.pk,
                            registration=registration,
                            allocation=target,
                            sequence=sequence,
                            amount=amount,
                            basis_amount=base,
                            created_at=now,
                        )
                    )
    return written
