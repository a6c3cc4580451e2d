"""The transactional outbox: deferred work that survives the broker.

A service that wants a task run after its change commits calls ``defer``
inside its transaction. That writes an ``OutboxMessage`` row in the same
transaction, so the work is remembered exactly when the change is: a
rollback forgets both, a commit keeps both, whatever happens to Redis.

Hand-over. Right after the commit, the row is handed to Celery at once
(``hand_over``; a broker that cannot be reached is logged and the request
answers normally). The relay (``relay``, on beat every few seconds) hands
over every row that is due: one the commit could not hand over, and one
handed over earlier whose task has not finished by its ``due_at`` (the
message was lost with an unpersisted Redis, or the worker was killed). Each
hand-over doubles the time allowed before the next one (up to an hour), so a
backlog does not multiply.

Exactly once. The task runs with its row locked (``run``): it does nothing if
the row is already done, and marks it done in the same transaction as its
effect. Two copies of a message run one after the other, and the second
finds the row done; a copy whose worker died mid-way rolled back with the
connection. A task that fails records its error and the row becomes due
again after a back-off; after ``MAX_ATTEMPTS`` the relay gives up on it and
says so in the log, and the platform admin lists it for a person to hand
over again.

Mail is the one effect outside the database: a worker killed between the
mail server accepting a message and the commit would send it twice. That
window is milliseconds wide; every other failure sends it once.
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from prm.broker import QUICK_RETRY, BrokerUnreachable, task_named

from .models import OutboxMessage, Tenant

log = logging.getLogger(__name__)

T = TypeVar("T")

# A row is handed over by its own commit; the relay leaves it alone for this
# long, so that the two do not both send it (and takes it after, if the
# process died between the commit and the hand-over).
COMMIT_GRACE = timedelta(seconds=10)
# The longest wait between two hand-overs, and between two attempts.
LONGEST_WAIT = timedelta(hours=1)
# Attempts before the relay gives up: with the doubling waits capped at an
# hour, a little over a day of a failing mail server or task.
MAX_ATTEMPTS = 30
# Done rows are kept this long for whoever investigates, then deleted.
KEEP_DONE = timedelta(days=7)


def lease(attempts: int) -> timedelta:
    """How long a task handed over for the ``attempts``-th time may take
    (queue wait included) before it is handed over again."""
    return _doubling(timedelta(seconds=settings.OUTBOX_LEASE_SECONDS), attempts)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th attempt failed."""
    return _doubling(timedelta(seconds=settings.OUTBOX_RETRY_SECONDS), attempts)


def _doubling(first: timedelta, attempts: int) -> timedelta:
    return min(first * (1 << min(max(attempts - 1, 0), 20)), LONGEST_WAIT)


# --- Writing: inside the change's transaction -----------------------------------------


def defer(tenant: Tenant, task: str, **kwargs: Any) -> OutboxMessage:
    """Run the Celery task registered as ``task`` with ``kwargs`` (ids, as
    strings) in ``tenant``'s scope once the current transaction commits,
    and again until it has run once."""
    return defer_many(tenant, task, [kwargs])[0]


def defer_many(
    tenant: Tenant, task: str, kwargs_list: Iterable[dict[str, Any]]
) -> list[OutboxMessage]:
    """``defer`` for many messages of one task, in one insert."""
    due = timezone.now() + COMMIT_GRACE
    rows = OutboxMessage.objects.bulk_create(
        OutboxMessage(tenant=tenant, task=task, kwargs=kwargs, due_at=due) for kwargs in kwargs_list
    )
    if rows:
        transaction.on_commit(lambda: hand_over(rows))
    return rows


# --- Handing over: after the commit, and by the relay ---------------------------------


def hand_over(rows: Sequence[OutboxMessage], now: datetime | None = None) -> int:
    """Publish ``rows`` to the broker; return how many went. Stops at the
    first broker error (the rest would fail the same way): the rows stay due
    and the relay hands them over once the broker is back.

    The rows are locked meanwhile, and marked sent in the same transaction:
    a worker that takes a message at once waits for its row to say so."""
    now = now or timezone.now()
    sent: list[OutboxMessage] = []
    failed: list[OutboxMessage] = []
    with scopes_disabled(), transaction.atomic():
        pks = [row.pk for row in rows]
        locked = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk__in=pks, done_at__isnull=True)
            .values_list("pk", flat=True)
        )
        # (The relay's own locks do not count: it passes rows it holds.)
        mine = set(locked) if pks else set()
        for row in rows:
            if row.pk not in mine:
                continue  # done already, or the relay or a task has it
            try:
                task = task_named(row.task)
            except KeyError:  # a deploy in progress? tried again, then given up
                row.attempts += 1
                row.last_error = f"No task is registered as {row.task}."
                row.due_at = now + backoff(row.attempts)
                failed.append(row)
                continue
            try:
                task.apply_async(
                    kwargs={
                        **row.kwargs,
                        "tenant_id": str(row.tenant_id),
                        "outbox_id": str(row.pk),
                    },
                    retry=True,
                    retry_policy=QUICK_RETRY,
                )
            except BrokerUnreachable as exc:
                log.warning(
                    "Broker unreachable (%s): %d deferred task(s) wait for the relay",
                    exc,
                    len(mine) - len(sent) - len(failed),
                )
                break
            except Exception as exc:  # not publishable (or, run eagerly, it failed)
                log.exception("Deferred task %s could not be handed over", row.task)
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                row.due_at = now + backoff(row.attempts)
                failed.append(row)
                continue
            row.attempts += 1
            row.sent_at = now
            row.due_at = now + lease(row.attempts)
            sent.append(row)
        for row in sent:
            OutboxMessage.objects.filter(pk=row.pk).update(
                attempts=row.attempts, sent_at=row.sent_at, due_at=row.due_at
            )
        for row in failed:  # (a row is done only if its task ran)
            OutboxMessage.objects.filter(pk=row.pk, done_at__isnull=True).update(
                attempts=row.attempts, last_error=row.last_error, due_at=row.due_at
            )
    return len(sent)


def relay(now: datetime | None = None, limit: int = 500) -> int:
    """Hand over every due row (oldest first, up to ``limit``) and give up
    on rows out of attempts. Rows a running task holds are skipped: that
    task is not lost. Platform-level: rows of every active tenant."""
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        due = list(
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                done_at__isnull=True,
                gave_up_at__isnull=True,
                due_at__lte=now,
                tenant__is_active=True,
            )
            .order_by("due_at")[:limit]
        )
        exhausted = [row for row in due if row.attempts >= MAX_ATTEMPTS]
        for row in exhausted:
            _give_up(row, now, row.last_error or "Not done after every attempt.")
        return hand_over([row for row in due if row.attempts < MAX_ATTEMPTS], now)


def purge_done(now: datetime | None = None, batch: int = 5000) -> int:
    """Delete done rows older than ``KEEP_DONE`` (a batch at a time)."""
    now = now or timezone.now()
    with scopes_disabled():
        old = OutboxMessage.objects.filter(done_at__lt=now - KEEP_DONE).values("pk")[:batch]
        deleted, _ = OutboxMessage.objects.filter(pk__in=old).delete()
    return deleted


def _give_up(row: OutboxMessage, now: datetime, error: str) -> None:
    log.error(
        "Deferred task %s %s (tenant %s) given up after %d attempt(s): %s",
        row.task,
        row.kwargs,
        row.tenant_id,
        row.attempts,
        error,
    )
    with scopes_disabled():
        OutboxMessage.objects.filter(pk=row.pk).update(gave_up_at=now, last_error=error)


def retry_given_up(rows: Iterable[OutboxMessage], now: datetime | None = None) -> int:
    """Make given-up rows due again, with their attempts counted afresh."""
    now = now or timezone.now()
    with scopes_disabled():
        return OutboxMessage.objects.filter(
            pk__in=[r.pk for r in rows], done_at__isnull=True
        ).update(gave_up_at=None, attempts=0, due_at=now)


# --- Running: inside the task, in the tenant's scope ----------------------------------


def run(outbox_id: str, body: Callable[[], T]) -> T | None:
    """Run ``body`` for the outbox row ``outbox_id`` once: with the row
    locked, unless it is done already, and mark it done in the same
    transaction as the body's effect. On failure the body's effect is rolled
    back, the error recorded, the row due again after a back-off, and the
    exception raised again (so the worker logs the failure)."""
    with transaction.atomic():
        row = OutboxMessage.objects.select_for_update().filter(pk=outbox_id).first()
        if row is None or row.done_at is not None:
            return None
        try:
            with transaction.atomic():
                result = body()
        except Exception as exc:
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            row.due_at = timezone.now() + backoff(row.attempts)
            row.save(update_fields=["last_error", "due_at"])
            failure = exc
        else:
            row.done_at = timezone.now()
            row.kwargs = {k: v for k, v in row.kwargs.items() if not k.endswith("token")}
            row.gave_up_at = None
            row.save(update_fields=["done_at", "kwargs", "gave_up_at"])
            return result
    log.warning(
        "Deferred task %s failed (attempt %d, again at %s): %s",
        row.task,
        row.attempts,
        row.due_at.isoformat(timespec="seconds"),
        row.last_error,
    )
    raise failure
