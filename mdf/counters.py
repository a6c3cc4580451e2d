"""The one way an allocation's money moves: ``move`` updates its counters
(and its budget's ``allocated``) with ``F()`` expressions in one UPDATE, in
a savepoint, so the check constraints on ``Allocation`` and ``Budget``
refuse an overdraft whatever runs at the same time (the row lock
serializes writers), and the refusal becomes an ``MdfError`` instead of a
broken transaction; and it records one ``AllocationChange``, the
allocation's history."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from incentives.money import round_money
from prm import format as fmt
from prm.tenancy.models import Tenant, User

from .errors import MdfError
from .models import Allocation, AllocationChange, Budget, FundRequest
from .workflow import resolve_now

ZERO = Decimal("0")
Change = AllocationChange.Kind

__all__ = ["ZERO", "Change", "money", "move", "positive", "refresh", "release", "round_money"]


def money(amount: Decimal, tenant: Tenant) -> str:
    return fmt.money(amount, tenant.base_currency)


def positive(amount: Any, field: str = "amount") -> Decimal:
    if not isinstance(amount, Decimal):
        raise MdfError("Enter an amount.", field)
    if amount <= 0:
        raise MdfError("Enter an amount greater than zero.", field)
    return amount


def move(
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
    move(
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
