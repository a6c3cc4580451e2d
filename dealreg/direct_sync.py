"""The vendor's CRM keeping its pipeline here one opportunity at a time (the
API's ``/direct-opportunities/``), beside the CSV import of a whole export
(``direct_import``).

``upsert`` creates or updates the opportunity with the CRM's id, from the
same cells a CSV row has and checked by the same rules (``check_row``); an
upsert that changes nothing writes nothing. ``close`` is what the CRM no
longer lists: the opportunity stays, for the history of the conflicts found
with it, in the stage "closed" (neither won nor lost), and stops counting in
conflict checks; an upsert with an open stage opens it again.

When a change can alter a conflict check's answer (the customer's name or
domain, whether it is open, its product lines), the pending registrations
it may concern are checked again after commit: those the check would
compare with its customer (``conflicts.pending_near``) and those that
conflicted with it before. Not every pending registration, as an import of
a whole file does: a CRM sends its changes one by one.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from prm.tenancy import outbox
from prm.tenancy.models import Tenant, User
from prm.tenancy.services import audit

from .conflicts import pending_near
from .direct_import import DATA_FIELDS, DirectImportError, check_row, normalize_opportunity
from .models import Conflict, DealRegistration, DirectOpportunity, ProductLine
from .workflow import CHECK_CONFLICTS

Stage = DirectOpportunity.Stage
# What a CRM sends, as the CSV columns name it (the key aside).
CELLS = tuple(c for c in DATA_FIELDS if c not in ("customer_name_normalized", "imported_at"))


@dataclass(frozen=True)
class Upserted:
    opportunity: DirectOpportunity
    created: bool
    changed: bool


def check(tenant: Tenant, external_id: str, cells: dict[str, str]) -> list[tuple[str, str]]:
    """The problems of an upsert, as (column, message): what ``upsert``
    would refuse. Reads only."""
    row = check_row(tenant, {**cells, "external_id": external_id})
    return [_split(error) for error in row.errors]


def _split(error: str) -> tuple[str, str]:
    column, _, message = error.partition(": ")
    return column, message


def _match_keys(opportunity: DirectOpportunity, products: list[Any]) -> tuple[Any, ...]:
    return (
        opportunity.customer_name_normalized,
        opportunity.customer_domain,
        opportunity.is_open,
        frozenset(p.pk for p in products),
    )


def _cells(opportunity: DirectOpportunity) -> tuple[Any, ...]:
    text = [str(getattr(opportunity, name) or "") for name in CELLS if name != "amount"]
    return (*text, opportunity.amount)


def upsert(
    *,
    tenant: Tenant,
    by: User | None,
    external_id: str,
    cells: dict[str, str],
    now: datetime | None = None,
) -> Upserted:
    """Create or update the opportunity ``external_id`` from ``cells`` (a
    CSV row's columns, as text; a column left out is empty, as in a file).
    Raises ``DirectImportError`` on the first problem (``check`` lists them)."""
    now = now or timezone.now()
    row = check_row(tenant, {**cells, "external_id": external_id})
    if row.errors:
        column, message = _split(row.errors[0])
        raise DirectImportError(message, column)
    with transaction.atomic():
        opportunity = (
            DirectOpportunity.objects.select_for_update()
            .filter(tenant=tenant, external_id=external_id)
            .first()
        )
        if opportunity is None:
            try:
                with transaction.atomic():
                    return _create(tenant, by, row.data, row.products, now)
            except IntegrityError:
                # Another request created it a moment ago: update that one.
                opportunity = DirectOpportunity.objects.select_for_update().get(
                    tenant=tenant, external_id=external_id
                )
        return _update(opportunity, by, row.data, row.products, now)


def _create(
    tenant: Tenant,
    by: User | None,
    data: dict[str, Any],
    products: list[ProductLine],
    now: datetime,
) -> Upserted:
    opportunity = DirectOpportunity(tenant=tenant, imported_at=now, **data)
    normalize_opportunity(opportunity)
    opportunity.save()
    opportunity.product_lines.set(products)
    audit(tenant, by=by, action="dealreg.direct_created", obj=opportunity, now=now)
    if opportunity.is_open:
        _recheck(opportunity, [])
    return Upserted(opportunity, created=True, changed=True)


def _update(
    opportunity: DirectOpportunity,
    by: User | None,
    data: dict[str, Any],
    products: list[ProductLine],
    now: datetime,
) -> Upserted:
    before_products = list(opportunity.product_lines.all())
    before_keys = _match_keys(opportunity, before_products)
    before_cells = _cells(opportunity)
    for name, value in data.items():
        setattr(opportunity, name, value)
    normalize_opportunity(opportunity)
    keys = _match_keys(opportunity, products)
    if keys == before_keys and _cells(opportunity) == before_cells:
        return Upserted(opportunity, created=False, changed=False)
    opportunity.imported_at = now
    opportunity.save()
    if keys[3] != before_keys[3]:
        opportunity.product_lines.set(products)
    audit(opportunity.tenant, by=by, action="dealreg.direct_updated", obj=opportunity, now=now)
    if keys != before_keys:
        _recheck(opportunity, _conflicted(opportunity))
    return Upserted(opportunity, created=False, changed=True)


def close(
    opportunity: DirectOpportunity, *, by: User | None, now: datetime | None = None
) -> DirectOpportunity:
    """The CRM no longer lists ``opportunity``: close it (see the module's
    docstring). One already closed (won, lost or closed) is left as it is."""
    now = now or timezone.now()
    with transaction.atomic():
        opportunity = DirectOpportunity.objects.select_for_update().get(pk=opportunity.pk)
        if not opportunity.is_open:
            return opportunity
        opportunity.stage = Stage.CLOSED
        opportunity.imported_at = now
        opportunity.save(update_fields=["stage", "imported_at"])
        audit(opportunity.tenant, by=by, action="dealreg.direct_closed", obj=opportunity, now=now)
        registrations = _conflicted(opportunity)
        if registrations:
            _defer_checks(opportunity.tenant, registrations)
    return opportunity


def _conflicted(opportunity: DirectOpportunity) -> list[uuid.UUID]:
    """Pending registrations whose last check met ``opportunity``."""
    return list(
        Conflict.objects.filter(
            direct_opportunity=opportunity, registration__status__in=DealRegistration.PENDING
        ).values_list("registration_id", flat=True)
    )


def _recheck(opportunity: DirectOpportunity, before: list[uuid.UUID]) -> None:
    near = (
        pending_near(
            opportunity.tenant, opportunity.customer_name_normalized, opportunity.customer_domain
        )
        if opportunity.is_open
        else []
    )
    _defer_checks(opportunity.tenant, [*before, *near])


def _defer_checks(tenant: Tenant, registrations: list[uuid.UUID]) -> None:
    unique = list(dict.fromkeys(registrations))
    if unique:
        outbox.defer_many(tenant, CHECK_CONFLICTS, [{"registration_id": str(pk)} for pk in unique])
