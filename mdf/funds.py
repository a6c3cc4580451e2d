"""Money in: budgets, allocations to partners (by hand, by rule), moves
between partners and expiry at the period's end (co-op accruals: ``coop``).
Every change of an allocation's money goes through ``counters.move``.

Tiers are effective-dated (``partners.tiers``): wherever a budget's rules
look at a partner's tier (a budget limited to a tier, the per-tier rule's
amount), they take the tier the partner held on the budget's first day
(``starts_on``), not the tier it holds when ops allocate. For a budget that
starts in the future that is the tier held today (the history knows no
later change).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from dealreg.models import DealRegistration
from incentives.ledger import NoRate, rate_on
from incentives.money import allocate as split_exactly
from incentives.money import round_money
from partners.models import Partner, Tier
from partners.tiers import Timeline, timelines
from prm import format as fmt
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.services import audit

from . import periods
from .coop import sync_coop as sync_coop
from .counters import ZERO, Change, money, move, positive, refresh
from .counters import release as release
from .errors import MdfError
from .models import Allocation, Budget, FundType
from .workflow import require_perm, resolve_now

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


def budget_tier_id(budget: Budget, partner: Partner, timeline: Timeline | None = None) -> Any:
    """The id of the tier ``partner`` held on ``budget``'s first day.
    ``timeline``: the partner's, when the caller read many at once."""
    if timeline is None:
        timeline = timelines([partner])[partner.pk]
    return timeline.on(budget.starts_on)


def partner_fits(budget: Budget, partner: Partner, *, timeline: Timeline | None = None) -> str:
    """Why ``partner`` cannot be allocated from ``budget`` ("" if it can).
    ``timeline``: the partner's tier history, when the caller read many at
    once (read here otherwise, for a budget limited to a tier)."""
    if budget.region_id and partner.region_id != budget.region_id:
        return f"{partner.name} is not in this budget's region ({budget.region})."
    if budget.tier_id and budget_tier_id(budget, partner, timeline) != budget.tier_id:
        return (
            f"{partner.name} was not in this budget's tier ({budget.tier}) on its first day "
            f"({fmt.day(budget.starts_on)})."
        )
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
    timeline: Timeline | None = None,
) -> Allocation:
    """Give ``partner`` ``amount`` more of ``budget`` (creating its
    allocation on the first). Refused past the budget's amount.
    ``timeline``: as ``partner_fits``."""
    if by is not None:
        require_perm(by, "mdf.add_allocation", None, "Only ops may allocate funds.")
    amount = positive(amount)
    now = resolve_now(now)
    _open(budget, budget.tenant.local_today(now))
    if problem := partner_fits(budget, partner, timeline=timeline):
        raise MdfError(problem, "partner")
    with transaction.atomic():
        allocation, created = Allocation.objects.get_or_create(
            tenant_id=budget.tenant_id,
            budget=budget,
            partner=partner,
            defaults={"source": source},
        )
        Allocation.objects.select_for_update().filter(pk=allocation.pk).first()
        move(
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
        move(
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
    amount = positive(amount)
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
        move(
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
        move(
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
    """The active partners in the budget's region and (on its first day)
    tier, each with ``budget_tier``: the Tier it held that day."""
    active = Partner.objects.filter(status=Partner.Status.ACTIVE).order_by("name")
    if budget.region_id:
        active = active.filter(region_id=budget.region_id)
    partners = list(active)
    held = {pk: line.on(budget.starts_on) for pk, line in timelines(partners).items()}
    if budget.tier_id:
        partners = [p for p in partners if held[p.pk] == budget.tier_id]
    names = Tier.objects.in_bulk({held[p.pk] for p in partners} - {None})
    for partner in partners:
        partner.budget_tier = names.get(held[partner.pk])  # type: ignore[attr-defined]  # for the plan
    return partners


def plan_per_tier(budget: Budget, amounts: dict[Any, Decimal]) -> RulePlan:
    """Each active partner in the budget's scope gets the amount of the tier
    it held on the budget's first day."""
    rows, skipped = [], []
    for partner in _candidates(budget):
        tier = partner.budget_tier  # type: ignore[attr-defined]  # set by _candidates
        amount = amounts.get(tier.pk if tier is not None else None)
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
        # A won deal has both: recording or correcting a win sets them
        # (dealreg.protection).
        assert amount is not None and closed is not None
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
        lines = timelines(p for p, _ in plan.rows) if locked.tier_id else {}
        return [
            allocate(
                locked,
                partner,
                amount,
                by=by,
                reason=reason,
                source=Allocation.Source.RULE,
                now=now,
                timeline=lines.get(partner.pk),
            )
            for partner, amount in plan.rows
        ]


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
            move(
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


def totals(allocations: Iterable[Allocation]) -> dict[str, Decimal]:
    keys = ("amount", "reserved", "claimed", "expired")
    return {k: sum((getattr(a, k) for a in allocations), ZERO) for k in keys}


def budget_totals(budget: Budget) -> dict[str, Decimal]:
    return Allocation.objects.filter(budget=budget).aggregate(
        **{k: Sum(k, default=ZERO) for k in ("amount", "reserved", "claimed", "expired")}
    )
