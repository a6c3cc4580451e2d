"""Sweeps over due rows, in locked batches: several workers may sweep the
same tenant at once (a late beat tick beside the next) without acting on a
row twice."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import models, transaction

from .models import Tenant

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)
D = TypeVar("D", bound=models.Model)


def in_locked_batches(
    queryset: "models.QuerySet[M]", handle: Callable[[list[M]], None], *, size: int
) -> None:
    """Call ``handle`` with the rows of ``queryset`` (ordered), ``size`` at a
    time, each batch locked (``FOR UPDATE SKIP LOCKED``, this table's rows
    only: a row another worker holds is skipped) in a transaction that
    commits when ``handle`` returns. ``handle`` must take every row of its
    batch out of ``queryset``'s filter (mark it done, or due later), or the
    sweep would meet it again; an exception from it rolls the batch back and
    stops the sweep."""
    while True:
        with transaction.atomic():
            batch = list(queryset.select_for_update(skip_locked=True, of=("self",))[:size])
            handle(batch)
        if len(batch) < size:
            return


# After a failed check, a row is checked again this much later.
RETRY_DELAY = timedelta(minutes=15)


def check_deadlines(
    queryset: "models.QuerySet[D]",
    check: Callable[[D], None],
    *,
    tenant: Tenant,
    now: datetime,
    size: int,
    what: str,
) -> tuple[int, int]:
    """The decision-deadline sweep of rows carrying ``next_check_at``,
    ``reminded_at`` and ``escalated_at`` (``queryset``: those due at ``now``,
    ordered). ``check(row)`` does the row's due action in a savepoint and sets
    its next ``next_check_at``; one that raises is logged (``what`` names
    the rows) and checked again after ``RETRY_DELAY``, the others go on.
    Returns (rows checked, checks failed)."""
    counts = [0, 0]

    def handle(batch: list[D]) -> None:
        for row in batch:
            row.tenant = tenant  # type: ignore[attr-defined]  # every such row is tenant-owned
            counts[0] += 1
            try:
                with transaction.atomic():
                    check(row)
            except Exception:
                logger.exception("%s deadline check of %s failed", what, row.pk)
                counts[1] += 1
                row.next_check_at = now + RETRY_DELAY  # type: ignore[attr-defined]
            type(row)._default_manager.filter(pk=row.pk).update(
                next_check_at=row.next_check_at,  # type: ignore[attr-defined]
                reminded_at=row.reminded_at,  # type: ignore[attr-defined]
                escalated_at=row.escalated_at,  # type: ignore[attr-defined]
            )

    in_locked_batches(queryset, handle, size=size)
    return counts[0], counts[1]
