"""Exchange rates entered one at a time (the admin's form); a file of them
goes through ``rate_import``. Each write is audited in its transaction.

A rate is unique per currency and day (a database constraint): the same
form sent twice, or two people entering the same day's rate at once, save
one rate; the other is refused with a message instead of an error page."""

from typing import Any

from django.db import IntegrityError, transaction

from prm.tenancy.models import User
from prm.tenancy.services import audit

from .ledger import IncentiveError
from .models import ExchangeRate

UNIQUE_CONSTRAINT = "exchangerate_unique"


def _facts(rate: ExchangeRate) -> dict[str, Any]:
    return {"currency": rate.currency, "valid_from": str(rate.valid_from), "rate": str(rate.rate)}


def _is_duplicate(error: IntegrityError) -> bool:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == UNIQUE_CONSTRAINT


def save_rate(rate: ExchangeRate, *, by: User | None, changed: list[str]) -> ExchangeRate:
    """Add ``rate`` or save its change (``changed``: the fields changed, for
    the audit entry). Another rate for the same currency and day is refused."""
    adding = rate._state.adding
    if adding:
        rate.created_by = by
    try:
        with transaction.atomic():
            rate.save()
            audit(
                rate.tenant,
                by=by,
                action="incentives.rate_added" if adding else "incentives.rate_changed",
                obj=rate,
                data={**_facts(rate), "changed": changed},
            )
    except IntegrityError as error:
        if not _is_duplicate(error):
            raise
        raise IncentiveError(
            f"A {rate.currency} rate valid from {rate.valid_from:%Y-%m-%d} already exists; "
            "nothing was saved. Change that rate instead.",
            "valid_from",
        ) from None
    return rate


def delete_rate(rate: ExchangeRate, *, by: User | None) -> None:
    with transaction.atomic():
        audit(rate.tenant, by=by, action="incentives.rate_deleted", obj=rate, data=_facts(rate))
        rate.delete()
