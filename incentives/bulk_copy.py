"""How a bulk accrual run (``bulk``) writes: entries and accrual states as
PostgreSQL ``COPY`` lines, straight into the ledger or, the careful way,
through temporary tables and ``ON CONFLICT``; inline in the caller's
transaction or through writer connections that commit together."""

import contextlib
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

# COPY's text format: these characters must be escaped inside a value.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def escaped(text: str) -> str:
    """``text`` as a COPY value: most need no escape, and testing that is
    a tenth of the cost of ``translate``."""
    if "\\" in text or not text.isprintable():
        return text.translate(_COPY_ESCAPES)
    return text


# One COPY line per entry: the columns that are the same on every entry of
# a run, the id, then what the computation writes. Other columns are NULL.
ENTRY_COLUMNS = (
    "tenant_id",
    "kind",
    "base_currency",
    "statement_start",
    "created_via",
    "created_at",
    "id",
    "partner_id",
    "amount",
    "currency",
    "fx_rate",
    "amount_base",
    "source",
    "registration_id",
    "plan_version_id",
    "basis_amount",
    "basis_currency",
    "period_start",
    "effective_date",
    "available_on",
    "description",
    "idempotency_key",
    "checksum",
)
# One per accrual state: the registration, when it was synced (NULL when
# not) and the problem that stopped it.
STATE_COLUMNS = ("tenant_id", "id", "registration_id", "synced_at", "problem")

# The careful way in: the same lines into tables shaped like the real ones.
_CREATE_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS incentives_bulk_entries
    (LIKE incentives_ledgerentry INCLUDING DEFAULTS) ON COMMIT DROP;
CREATE TEMP TABLE IF NOT EXISTS incentives_bulk_states
    (LIKE incentives_dealaccrualstate INCLUDING DEFAULTS) ON COMMIT DROP;
"""

# In key order: the unique index and the registration indexes fill in
# sequence, and the reference checks visit registrations so.
_MOVE_ENTRIES = f"""
INSERT INTO incentives_ledgerentry ({", ".join(ENTRY_COLUMNS)})
SELECT {", ".join(ENTRY_COLUMNS)} FROM incentives_bulk_entries
ORDER BY idempotency_key
ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
"""  # noqa: S608 (the column names are the code's, not input)

# The sync task's bookkeeping: synced now, or the problem that stopped it.
_MOVE_STATES = f"""
INSERT INTO incentives_dealaccrualstate ({", ".join(STATE_COLUMNS)})
SELECT {", ".join(STATE_COLUMNS)} FROM incentives_bulk_states
ORDER BY registration_id
ON CONFLICT (registration_id) DO UPDATE
SET synced_at = EXCLUDED.synced_at, problem = EXCLUDED.problem
"""  # noqa: S608 (the column names are the code's, not input)


# --- Writing ------------------------------------------------------------------------------


class Move(TypedDict):
    """How a run's lines go in: ``direct`` (see ``write_chunk``), and what
    every entry line and every accrual state line starts with."""

    direct: bool
    entry_prefix: str
    state_prefix: str


def _copy(cursor: CursorWrapper, table: str, columns: Iterable[str], lines: list[str]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for start in range(0, len(lines), 5000):
            copy.write("".join(lines[start : start + 5000]))


@dataclass
class Chunk:
    """Whole COPY lines for one writer (the run's constant columns, the id,
    then what was computed): ``entries`` for the ledger, ``states`` to
    insert (the registration has none) and ``restates`` to upsert (it has
    one, or the run is not ``direct``)."""

    entries: list[str]
    states: list[str]
    restates: list[str]


def write_chunk(cursor: CursorWrapper, chunk: Chunk, move: Move, times: dict[str, float]) -> int:
    """Write one chunk into the ledger and the accrual states; return the
    number of entries written (conflicts left out).

    A ``direct`` run copies the lines straight into the ledger and the
    accrual states: one COPY, the rows inserted a page at a time, no
    temporary table and no per-row conflict test. It meets an entry or state
    written since the deals were read (a concurrent ``sync_deal``) as a
    unique violation, and the caller runs again without ``direct``: through
    a temporary table, ``INSERT ... SELECT ... ON CONFLICT``, which keeps
    what is there. Existing accrual states always take that way."""
    written = 0
    direct = move["direct"]
    if chunk.entries:
        started = time.perf_counter()
        lines = chunk.entries
        if direct:
            _copy(cursor, "incentives_ledgerentry", ENTRY_COLUMNS, lines)
            written = len(lines)
        else:
            _copy(cursor, "incentives_bulk_entries", ENTRY_COLUMNS, lines)
            cursor.execute(_MOVE_ENTRIES)
            written = cursor.rowcount
            cursor.execute("TRUNCATE incentives_bulk_entries")
        times["entries_s"] += time.perf_counter() - started
    if chunk.states or chunk.restates:
        started = time.perf_counter()
        if chunk.states:  # only a direct run has them
            _copy(cursor, "incentives_dealaccrualstate", STATE_COLUMNS, chunk.states)
        if chunk.restates:
            _copy(cursor, "incentives_bulk_states", STATE_COLUMNS, chunk.restates)
            cursor.execute(_MOVE_STATES)
            cursor.execute("TRUNCATE incentives_bulk_states")
        times["states_s"] += time.perf_counter() - started
    return written


class InlineWriter:
    """Writes on the caller's connection, in the caller's transaction."""

    def __init__(self, move: Move) -> None:
        self.move = move
        self.written = 0
        self.times = {"entries_s": 0.0, "states_s": 0.0}
        with connection.cursor() as cursor:
            cursor.execute(_CREATE_TEMP)

    def put(self, chunk: Chunk) -> None:
        with connection.cursor() as cursor:
            self.written += write_chunk(cursor, chunk, self.move, self.times)

    def close(self) -> None:
        pass

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass

    error: BaseException | None = None


class _Abort(Exception):
    pass


_COMMIT = "commit"
# What a writer's inbox holds: a chunk, then the last chunk marker (None),
# then _COMMIT or _Abort.
_Item = Chunk | str | type[_Abort] | None


class ThreadWriter(threading.Thread):
    """Writes on a connection of its own, in one transaction, checking
    the remaining deferred foreign keys statement by statement (so the
    checks run beside the computation instead of piling up before the
    commit). ``close`` waits
    until everything handed over is written; the transaction then commits
    on ``commit`` and rolls back on ``abort`` (or an error), so the writers
    of a run commit only once all of them have succeeded."""

    def __init__(self, move: Move) -> None:
        super().__init__(name="incentives-bulk-writer", daemon=True)
        self.move = move
        self.inbox: queue.Queue[_Item] = queue.Queue(maxsize=2)
        self.ready = threading.Event()
        self.written = 0
        self.times = {"entries_s": 0.0, "states_s": 0.0}
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_CREATE_TEMP)
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                while (item := self.inbox.get()) is not None:
                    if item is _Abort:
                        raise _Abort
                    # Only chunks come before the last chunk marker: _COMMIT
                    # is sent after it (``close`` before ``commit``).
                    assert isinstance(item, Chunk)
                    self.written += write_chunk(cursor, item, self.move, self.times)
                self.ready.set()
                if self.inbox.get() is not _COMMIT:
                    raise _Abort
        except _Abort:
            self.written = 0
        except BaseException as error:  # handed to the main thread
            self.written = 0
            self.error = error
            while True:  # unblock a producer waiting on a full inbox
                try:
                    self.inbox.get_nowait()
                except queue.Empty:
                    break
        finally:
            self.ready.set()
            connection.close()

    def put(self, chunk: Chunk) -> None:
        self._send(chunk)
        if self.error is not None:
            raise self.error

    def _send(self, item: _Item) -> None:
        while self.is_alive():
            if self.error is not None:
                raise self.error
            try:
                self.inbox.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Send the last chunk marker and wait until checked or failed."""
        self._send(None)
        self.ready.wait()

    def commit(self) -> None:
        self._send(_COMMIT)
        self.join()

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # it failed already: nothing to undo
            self._send(_Abort)
        self.join()
