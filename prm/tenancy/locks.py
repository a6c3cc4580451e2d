"""Advisory locks, transaction-level only.

A transaction-level lock (``pg_advisory_xact_lock``) is released by
PostgreSQL when the transaction ends, whatever happens to the worker. That
makes it safe behind a connection pooler in transaction mode (PgBouncer),
where consecutive transactions of one Django connection may run on
different server connections: a session-level lock would stay with the
server connection it was taken on, held for someone else or never released.
Nothing in the application takes a session-level advisory lock.

Keys are text (``"incentives:ledger:<partner id>"``) hashed by PostgreSQL's
``hashtextextended(key, 0)`` to the 64-bit lock id: stable across processes,
releases and Python's hash randomisation, and the same value a trigger or a
``psql`` session computes for the same text.
"""

from django.db import connection, transaction

# The lock as an SQL expression taking the key, for a statement that takes
# it together with other work (``SELECT <expr>, ...``).
ADVISORY_XACT_LOCK_SQL = "pg_advisory_xact_lock(hashtextextended(%s, 0))"
_LOCK = f"SELECT {ADVISORY_XACT_LOCK_SQL}"
_TRY = "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))"


def _require_transaction(key: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            f"advisory_xact_lock({key!r}) outside a transaction would be released at once; "
            "call it inside transaction.atomic()."
        )


def advisory_xact_lock(key: str) -> None:
    """Wait for the lock named ``key``; it is held until the surrounding
    transaction commits or rolls back."""
    _require_transaction(key)
    with connection.cursor() as cursor:
        cursor.execute(_LOCK, [key])


def try_advisory_xact_lock(key: str) -> bool:
    """Take the lock named ``key`` if no other transaction holds it; return
    whether it was taken (held until the transaction ends)."""
    _require_transaction(key)
    with connection.cursor() as cursor:
        cursor.execute(_TRY, [key])
        row = cursor.fetchone()
        return bool(row[0])
