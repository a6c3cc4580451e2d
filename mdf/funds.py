"""Money in: budgets, allocations to partners (by hand, by rule), moves
between partners, co-op accruals from won deals and expiry at the period's
end.

Every change of an allocation's money goes through ``_move``: one UPDATE of
the counters with ``F()`` expressions (the row lock serializes concurrent
writers) inside a savepoint, so the check constraints on ``Allocation`` and
``Budget`` refuse an overdraft and the refusal becomes an ``MdfError``
instead of a broken transaction; and one ``AllocationChange`` row, the
allocation's history."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum

from dealreg.models import DealRegistration
from incentives.ledger import NoRate, rate_on
from incentives.money import allocate as split_exactly
from incentives.money import round_money
from partners.models import Partner
from prm import format as fmt
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.services import audit

from . import periods
from .errors import MdfError
from .models import Allocation, AllocationChange, Budget, CoopAccrual, FundRequest, FundType
from .workflow import require_perm, resolve_now

ZERO = Decimal("0")
Change = AllocationChange.Kind


def money(amount: Decimal, tenant: Tenant) -> str:
    return fmt.money(amount, tenant.base_currency)


def _positive(amount: Any, field: str = "amount") -> Decimal:
    if not isinstance(amount, Decimal):
        raise MdfError("Enter an amount.", field)
    if amount <= 0:
        raise MdfError("Enter an amount greater than zero.", field)
    return amount


def _move(
    allocation: Allocation,
    kind: str,
    change: Decimal,
    *,
    by: User | None,
    counters: dict[str, Decimal],
    reason: str = "",
    request: FundRequest | None = None,
    refusal: str,
    field: str = "amount",
    now: datetime | None = None,
) -> None:
    """Add ``counters`` (e.g. ``{"reserved": Decimal("100")}``) to the
    allocation (and ``amount`` changes to its budget's ``allocated``) in
    one constrained UPDATE, and record the change."""
    try:
        with transaction.atomic():
            Allocation.objects.filter(pk=allocation.pk).update(
                **{name: F(name) + delta for name, delta in counters.items()}
            )
            if "amount" in counters:
                Budget.objects.filter(pk=allocation.budget_id).update(
                    allocated=F("allocated") + counters["amount"]
                )
    except IntegrityError as error:
        raise MdfError(refusal, field) from error
    AllocationChange.objects.create(
        tenant_id=allocation.tenant_id,
        allocation=allocation,
        kind=kind,
        amount=change,
        reason=reason[:300],
        request=request,
        actor=by,
        created_at=resolve_now(now),
    )


def refresh(allocation: Allocation) -> Allocation:
    allocation.refresh_from_db(fields=["amount", "reserved", "claimed", "expired"])
    return allocation


# --- Budgets --------------------------------------------------------------------------


def create_budget(
    tenant: Tenant,
    *,
    by: Membership,
    fund_type: FundType,
    span: str,
    fiscal_year: int,
    number: int,
    amount: Decimal,
    region: Any = None,
    tier: Any = None,
    notes: str = "",
) -> Budget:
    require_perm(by, "mdf.add_budget", None, "Only ops and finance may create budgets.")
    if amount is None or amount < 0:
        raise MdfError("Enter the budget's amount (zero or more).", "amount")
    if fund_type.tenant_id != tenant.pk:
        raise MdfError("Select a valid fund type.", "fund_type")
    try:
        starts_on, ends_on = periods.period_dates(tenant, span, fiscal_year, number)
    except ValueError as error:
        raise MdfError(f"Choose a valid period: {error}.", "number") from error
    budget = Budget(
        tenant=tenant,
        fund_type=fund_type,
        span=span,
        fiscal_year=fiscal_year,
        number=number,
        starts_on=starts_on,
        ends_on=ends_on,
        region=region,
        tier=tier,
        amount=amount,
        currency=tenant.base_currency,
        notes=notes,
        created_by=by.user,
    )
    try:
        with transaction.atomic():
            budget.save()
            audit(
                tenant,
                by=by.user,
                action="mdf.budget_created",
                obj=budget,
                data={"amount": str(amount), "period": budget.period_label},
            )
    except IntegrityError as error:
        raise MdfError(
            "There is already a budget for this fund type, period, region and tier.", "fund_type"
        ) from error
    return budget


def set_budget_amount(budget: Budget, amount: Decimal, *, by: Membership, reason: str) -> Budget:
    require_perm(by, "mdf.change_budget", budget, "Only ops and finance may change budgets.")
    if amount is None or amount < 0:
        raise MdfError("Enter the budget's amount (zero or more).", "amount")
    if not reason.strip():
        raise MdfError("Say why the budget changes.", "reason")
    with transaction.atomic():
        locked = Budget.objects.select_for_update().get(pk=budget.pk)
        if amount < locked.allocated:
            raise MdfError(
                f"{money(locked.allocated, locked.tenant)} of this budget is already allocated: "
                "it cannot be less.",
                "amount",
            )
        before = locked.amount
        locked.amount = amount
        locked.save(update_fields=["amount"])
        audit(
            locked.tenant,
            by=by.user,
            action="mdf.budget_changed",
            obj=locked,
            data={"from": str(before), "to": str(amount), "reason": reason.strip()},
        )
    return locked


# --- Allocations ----------------------------------------------------------------------


def partner_fits(budget: Budget, partner: Partner) -> str:
    """Why ``partner`` cannot be allocated from ``budget`` ("" if it can)."""
    if budget.region_id and partner.region_id != budget.region_id:
        return f"{partner.name} is not in this budget's region ({budget.region})."
    if budget.tier_id and partner.tier_id != budget.tier_id:
        return f"{partner.name} is not in this budget's tier ({budget.tier})."
    if partner.status in (Partner.Status.SUSPENDED, Partner.Status.TERMINATED):
        return f"{partner.name} is {partner.get_status_display().lower()}."
    return ""


def _open(budget: Budget, today: date) -> None:
    if budget.ends_on < today:
        raise MdfError(
            f"This budget's period ended on {fmt.day(budget.ends_on)}: its funds have expired.",
            "budget",
        )


def _room(budget: Budget) -> str:
    budget.refresh_from_db(fields=["amount", "allocated"])
    return (
        f"The budget has {money(budget.amount - budget.allocated, budget.tenant)} left "
        f"to allocate (of {money(budget.amount, budget.tenant)})."
    )


def allocate(
    budget: Budget,
    partner: Partner,
    amount: Decimal,
    *,
    by: Membership | None,
    reason: str = "",
    source: str = Allocation.Source.MANUAL,
    now: datetime | None = None,
) -> Allocation:
    """Give ``partner`` ``amount`` more of ``budget`` (creating its
    allocation on the first). Refused past the budget's amount."""
    if by is not None:
        require_perm(by, "mdf.add_allocation", None, "Only ops may allocate funds.")
    amount = _positive(amount)
    now = resolve_now(now)
    _open(budget, budget.tenant.local_today(now))
    if problem := partner_fits(budget, partner):
        raise MdfError(problem, "partner")
    with transaction.atomic():
        allocation, created = Allocation.objects.get_or_create(
            tenant_id=budget.tenant_id,
            budget=budget,
            partner=partner,
            defaults={"source": source},
        )
        Allocation.objects.select_for_update().filter(pk=allocation.pk).first()
        _move(
            allocation,
            Change.ALLOCATED if created else Change.ADJUSTED,
            amount,
            by=by.user if by else None,
            reason=reason,
            refusal=f"{money(amount, budget.tenant)} is more than this budget has left. "
            + _room(budget),
            now=now,
            counters={"amount": amount},
        )
    return refresh(allocation)


def set_allocation_amount(
    allocation: Allocation,
    amount: Decimal,
    *,
    by: Membership,
    reason: str,
    now: datetime | None = None,
) -> Allocation:
    """Change what a partner is allocated: never below what it has
    reserved, claimed or expired, never past the budget."""
    require_perm(by, "mdf.change_allocation", allocation, "Only ops may change allocations.")
    if amount is None or amount < 0:
        raise MdfError("Enter the amount (zero or more).", "amount")
    if not reason.strip():
        raise MdfError("Say why the allocation changes.", "reason")
    with transaction.atomic():
        locked = (
            Allocation.objects.select_for_update().select_related("budget").get(pk=allocation.pk)
        )
        delta = amount - locked.amount
        if delta == 0:
            return locked
        used = locked.reserved + locked.claimed + locked.expired
        _move(
            locked,
            Change.ADJUSTED,
            delta,
            by=by.user,
            reason=reason.strip(),
            refusal=(
                f"{money(used, locked.tenant)} of this allocation is already reserved, claimed "
                "or expired: it cannot be less."
                if amount < used
                else f"That is more than the budget has left. {_room(locked.budget)}"
            ),
            now=now,
            counters={"amount": delta},
        )
    return refresh(locked)


def move_funds(
    source: Allocation,
    partner: Partner,
    amount: Decimal,
    *,
    by: Membership,
    reason: str,
    now: datetime | None = None,
) -> Allocation:
    """Move unspent money of ``source`` to ``partner``'s allocation of the
    same budget. Returns the target allocation."""
    require_perm(by, "mdf.change_allocation", source, "Only ops may move funds.")
    amount = _positive(amount)
    if not reason.strip():
        raise MdfError("Say why the funds move.", "reason")
    if partner.pk == source.partner_id:
        raise MdfError("Choose another partner to move the funds to.", "partner")
    now = resolve_now(now)
    budget = source.budget
    _open(budget, budget.tenant.local_today(now))
    if problem := partner_fits(budget, partner):
        raise MdfError(problem, "partner")
    with transaction.atomic():
        target, _created = Allocation.objects.get_or_create(
            tenant_id=budget.tenant_id, budget=budget, partner=partner
        )
        # Lock both rows in one order (by id) so two opposite moves cannot deadlock.
        list(
            Allocation.objects.select_for_update()
            .filter(pk__in=[source.pk, target.pk])
            .order_by("pk")
        )
        refresh(source)
        _move(
            source,
            Change.MOVED_OUT,
            -amount,
            by=by.user,
            reason=f"To {partner.name}: {reason.strip()}",
            refusal=f"Only {money(source.available, source.tenant)} of "
            f"{source.partner.name}'s allocation is unspent.",
            now=now,
            counters={"amount": -amount},
        )
        _move(
            target,
            Change.MOVED_IN,
            amount,
            by=by.user,
            reason=f"From {source.partner.name}: {reason.strip()}",
            refusal="The move would take the budget past its amount.",
            now=now,
            counters={"amount": amount},
        )
        audit(
            budget.tenant,
            by=by.user,
            action="mdf.funds_moved",
            obj=source,
            data={"to": str(target.pk), "amount": str(amount), "reason": reason.strip()},
        )
    return refresh(target)


@dataclass
class RulePlan:
    """What a rule would allocate: one (partner, amount) per partner, and
    the partners it leaves out with why."""

    rows: list[tuple[Partner, Decimal]]
    skipped: list[tuple[Partner, str]]

    @property
    def total(self) -> Decimal:
        return sum((amount for _, amount in self.rows), ZERO)


def _candidates(budget: Budget) -> list[Partner]:
    partners = Partner.objects.filter(status=Partner.Status.ACTIVE).order_by("name")
    if budget.region_id:
        partners = partners.filter(region_id=budget.region_id)
    if budget.tier_id:
        partners = partners.filter(tier_id=budget.tier_id)
    return list(partners)


def plan_per_tier(budget: Budget, amounts: dict[Any, Decimal]) -> RulePlan:
    """Each active partner in the budget's scope gets its tier's amount."""
    rows, skipped = [], []
    for partner in _candidates(budget):
        amount = amounts.get(partner.tier_id)
        if amount:
            rows.append((partner, round_money(amount, budget.currency)))
        else:
            skipped.append((partner, "no amount for its tier"))
    return RulePlan(rows, skipped)


def previous_period(budget: Budget) -> tuple[date, date]:
    tenant = budget.tenant
    count = periods.COUNT[budget.span]
    year, number = (
        (budget.fiscal_year, budget.number - 1)
        if budget.number > 1
        else (budget.fiscal_year - 1, count)
    )
    return periods.period_dates(tenant, budget.span, year, number)


def plan_revenue_share(budget: Budget, total: Decimal) -> RulePlan:
    """``total`` split among the active partners in scope in proportion to
    their won revenue (base currency) in the previous period of the same
    span; exact to the cent (``incentives.money.allocate``)."""
    start, end = previous_period(budget)
    candidates = _candidates(budget)
    won: dict[Any, Decimal] = {p.pk: ZERO for p in candidates}
    rows = DealRegistration.objects.filter(
        partner_id__in=won.keys(),
        status=DealRegistration.Status.WON,
        won_close_date__range=(start, end),
    ).values_list("partner_id", "won_amount", "won_currency", "won_close_date")
    tenant = budget.tenant
    for partner_id, amount, currency, closed in rows:
        try:
            won[partner_id] += round_money(
                amount * rate_on(tenant, currency, closed), tenant.base_currency
            )
        except NoRate:
            continue
    earning = [p for p in candidates if won[p.pk] > 0]
    skipped = [(p, "no won revenue last period") for p in candidates if won[p.pk] <= 0]
    if not earning:
        return RulePlan([], skipped)
    parts = split_exactly(total, [won[p.pk] for p in earning], budget.currency)
    return RulePlan([(p, a) for p, a in zip(earning, parts, strict=True) if a > 0], skipped)


def apply_plan(
    budget: Budget, plan: RulePlan, *, by: Membership, reason: str, now: datetime | None = None
) -> list[Allocation]:
    """All or nothing: every row is allocated, or none (the budget's left
    amount is checked first, and the constraints hold anyway)."""
    require_perm(by, "mdf.add_allocation", None, "Only ops may allocate funds.")
    if not plan.rows:
        raise MdfError("The rule allocates nothing: no partner qualifies.", "rule")
    with transaction.atomic():
        locked = Budget.objects.select_for_update().get(pk=budget.pk)
        left = locked.amount - locked.allocated
        if plan.total > left:
            raise MdfError(
                f"The rule allocates {money(plan.total, locked.tenant)}, more than the "
                f"{money(left, locked.tenant)} this budget has left.",
                "rule",
            )
        return [
            allocate(
                locked,
                partner,
                amount,
                by=by,
                reason=reason,
                source=Allocation.Source.RULE,
                now=now,
            )
            for partner, amount in plan.rows
        ]


# --- Co-op accruals -------------------------------------------------------------------


def _accrual_budget(fund_type: FundType, partner: Partner, day: date) -> Budget | None:
    """The most specific budget of ``fund_type`` covering ``day`` that the
    partner's region and tier fit."""
    budgets = Budget.objects.filter(
        fund_type=fund_type, starts_on__lte=day, ends_on__gte=day
    ).filter(
        Q(region__isnull=True) | Q(region_id=partner.region_id),
        Q(tier__isnull=True) | Q(tier_id=partner.tier_id),
    )
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
        won = registration.status == DealRegistration.Status.WON and registration.won_amount
        base = ZERO
        if won:
            try:
                base = round_money(
                    registration.won_amount
                    * rate_on(tenant, registration.won_currency, registration.won_close_date),
                    tenant.base_currency,
                )
            except NoRate:
                base = ZERO
        for fund_type in fund_types:
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
                _accrual_budget(fund_type, registration.partner, registration.won_close_date)
                if won
                else None
            )
            desired = (
                round_money(base * fund_type.accrual_percent / 100, tenant.base_currency)
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
                _move(
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
                    _move(
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


# --- Expiry ---------------------------------------------------------------------------


def expire(tenant: Tenant, *, now: datetime | None = None) -> list[Allocation]:
    """Use it or lose it: what is still available in allocations whose
    period has ended expires. Reservations stay until their claim windows
    close (``requests.release_unclaimed`` expires what they give back)."""
    now = resolve_now(now)
    today = tenant.local_today(now)
    done = []
    ids = list(
        Allocation.objects.filter(budget__ends_on__lt=today)
        .filter(amount__gt=F("reserved") + F("claimed") + F("expired"))
        .values_list("pk", flat=True)
    )
    for pk in ids:
        with transaction.atomic():
            allocation = Allocation.objects.select_for_update().select_related("budget").get(pk=pk)
            left = allocation.available
            if left <= 0:
                continue
            _move(
                allocation,
                Change.EXPIRED,
                left,
                by=None,
                reason=f"The period ended on {fmt.day(allocation.budget.ends_on)}.",
                refusal="",
                now=now,
                counters={"expired": left},
            )
            done.append(refresh(allocation))
    return done


def release(
    allocation: Allocation,
    amount: Decimal,
    *,
    by: User | None,
    request: FundRequest,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Give a reservation back: to the available funds while the period
    lasts, to expired once it has ended."""
    if amount <= 0:
        return
    now = resolve_now(now)
    ended = allocation.budget.ends_on < allocation.tenant.local_today(now)
    counters = {"reserved": -amount}
    if ended:
        counters["expired"] = amount
    _move(
        allocation,
        Change.RELEASED,
        -amount,
        by=by,
        request=request,
        reason=reason + (" The period has ended: the funds expire." if ended else ""),
        refusal="The reservation could not be released.",
        now=now,
        counters=counters,
    )


def totals(allocations: Iterable[Allocation]) -> dict[str, Decimal]:
    keys = ("amount", "reserved", "claimed", "expired")
    return {k: sum((getattr(a, k) for a in allocations), ZERO) for k in keys}


def budget_totals(budget: Budget) -> dict[str, Decimal]:
    return Allocation.objects.filter(budget=budget).aggregate(
        **{k: Sum(k, default=ZERO) for k in ("amount", "reserved", "claimed", "expired")}
    )
