"""What the reporting benchmark's seed (``bench.reporting_seed``) loads
with: ids made as the application makes them (uuid7), ``COPY`` lines,
money as exact integers, business time on arrays, and bulk loading without
the secondary indexes and foreign keys (built and checked once at the end,
as ``pg_restore`` does)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from prm.tenancy.businesstime import BusinessCalendar

CODE_ALPHABET = np.frombuffer(b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ", dtype="S1")
NULL = "\\N"
DAY_MINUTES = 480  # 09:00-17:00, the default deal registration calendar


# --- Ids and codes --------------------------------------------------------------------


def uuid7s(rng: np.random.Generator, instants_ms: np.ndarray) -> list[str]:
    """uuid7 texts (hyphenated, as ``str(uuid)`` writes them) for the given
    creation times in milliseconds: time-ordered ids, as the application's."""
    n = len(instants_ms)
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    ms = np.asarray(instants_ms, dtype=">u8").view(np.uint8).reshape(n, 8)
    raw[:, 0:6] = ms[:, 2:8]
    raw[:, 6] = 0x70 | (raw[:, 6] & 0x0F)
    raw[:, 8] = 0x80 | (raw[:, 8] & 0x3F)
    text = raw.tobytes().hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


def codes(prefix: str, numbers: np.ndarray, salt: int) -> list[str]:
    """Distinct public codes (``DR-7KQ2M9XA``) for distinct numbers below
    32**8: the number times an odd constant modulo 2**40, in the codes'
    alphabet, so consecutive rows do not get consecutive codes."""
    mixed = (numbers.astype(np.uint64) * np.uint64(0x9E3779B1) + np.uint64(salt)) & np.uint64(
        (1 << 40) - 1
    )
    digits = np.empty((len(numbers), 8), dtype="S1")
    for k in range(8):
        digits[:, 7 - k] = CODE_ALPHABET[((mixed >> np.uint64(5 * k)) & np.uint64(31)).astype(int)]
    return [prefix + b.decode() for b in digits.view("S8").ravel()]


# --- Money as exact integers ----------------------------------------------------------


def half_up(numerator: np.ndarray, denominator: Any) -> np.ndarray:
    """numerator / denominator rounded half away from zero (non-negative
    numerators), exactly, in int64."""
    return (2 * numerator + denominator) // (2 * denominator)


def cents_text(value: int) -> str:
    """Cents as decimal text with two places: -1234 -> ``-12.34``."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(int(value)), 100)
    return f"{sign}{whole}.{frac:02d}"


def canonical_cents(value: int) -> str:
    """``incentives.models.canonical_decimal`` of an amount in cents:
    12.50 -> ``12.5``, 100.00 -> ``100``, 0 -> ``0``."""
    value = int(value)
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 100)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:02d}".rstrip("0")


def canonical_rate(r8: int) -> str:
    """``canonical_decimal`` of a rate held in units of 10**-8."""
    whole, frac = divmod(int(r8), 10**8)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:08d}".rstrip("0")


# --- Time ------------------------------------------------------------------------------


def to_utc(local: pd.Series | pd.DatetimeIndex, zone: str) -> pd.DatetimeIndex:
    """Naive local wall-clock times in ``zone`` as UTC instants (a time
    the clocks skip moves forward; one they repeat is the later, standard
    time)."""
    index = pd.DatetimeIndex(local)
    ambiguous = np.zeros(len(index), dtype=bool)
    localized = index.tz_localize(zone, ambiguous=ambiguous, nonexistent="shift_forward")
    return localized.tz_convert("UTC")


def ms(instants: pd.DatetimeIndex) -> np.ndarray:
    return instants.asi8 // 1_000_000 if instants.unit == "ns" else instants.as_unit("ms").asi8


def iso(instants: pd.DatetimeIndex) -> list[str]:
    """UTC instants as COPY text (``2026-01-02 15:04:05.123456+00``)."""
    return list(instants.strftime("%Y-%m-%d %H:%M:%S.%f+00"))


class BusinessClock:
    """Business minutes on arrays for the tenant's deal registration
    calendar (its working days, 09:00-17:00): an instant inside working
    hours is a number of minutes since the first working day of the list, so
    adding business time is an addition. ``BusinessCalendar.between`` of two
    such instants is their difference, which is what the turnaround metric
    measures (checked by the seed on a sample)."""

    def __init__(self, calendar: BusinessCalendar, first: date, last: date) -> None:
        if calendar.day_start != time(9) or calendar.day_end != time(17):
            raise ValueError("The seed's business clock assumes 09:00-17:00 working days.")
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        self.days = np.array([d for d in days if calendar.is_working_day(d)], dtype="datetime64[D]")

    def minutes(self, local: pd.DatetimeIndex) -> np.ndarray:
        """Business minutes at naive local times (the next working moment
        for a time outside working hours)."""
        day = local.normalize().values.astype("datetime64[D]")
        pos = np.searchsorted(self.days, day)
        pos = np.minimum(pos, len(self.days) - 1)
        working = self.days[pos] == day
        into = ((local - local.normalize()).total_seconds().values // 60).astype(np.int64) - 540
        into = np.where(working, np.clip(into, 0, DAY_MINUTES), 0)
        return pos.astype(np.int64) * DAY_MINUTES + into

    def local(self, minutes: np.ndarray) -> pd.DatetimeIndex:
        """Naive local times at business minutes."""
        minutes = np.asarray(minutes, dtype=np.int64)
        pos, into = np.divmod(minutes, DAY_MINUTES)
        pos = np.minimum(pos, len(self.days) - 1)
        base = self.days[pos].astype("datetime64[m]")
        return pd.DatetimeIndex(base + (540 + into).astype("timedelta64[m]"))


# --- COPY --------------------------------------------------------------------------------


def copy_rows(cursor, table: str, columns: Sequence[str], rows: Iterable[str]) -> int:
    """Stream tab-separated lines (each ending in a newline) into ``table``."""
    count = 0
    batch: list[str] = []
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for line in rows:
            batch.append(line)
            if len(batch) >= 20_000:
                copy.write("".join(batch))
                count += len(batch)
                batch = []
        if batch:
            copy.write("".join(batch))
            count += len(batch)
    return count


def lines(*columns: Sequence[Any]) -> Iterator[str]:
    """COPY lines from parallel columns of ready texts."""
    for values in zip(*columns, strict=True):
        yield "\t".join(values) + "\n"


@contextmanager
def bulk_load(cursor, tables: Sequence[str], *, keep: Sequence[str] = ()) -> Iterator[None]:
    """Load ``tables`` without their indexes, primary and unique keys
    (except those of the tables in ``keep``: a trigger's ``ON CONFLICT``
    needs them) and the foreign keys from or to them; afterwards build the
    keys and indexes once, by sorting, and add the foreign keys back, which
    checks every row in one join instead of one lookup per row (what
    ``pg_restore`` does). Inside the caller's transaction: a failure leaves
    the schema as it was."""
    loose = [t for t in tables if t not in keep]
    cursor.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c WHERE c.contype = 'f' AND (c.conrelid::regclass::text = ANY(%s) "
        "OR c.confrelid::regclass::text = ANY(%s)) ORDER BY 1, 2",
        [list(tables), loose],
    )
    keys = cursor.fetchall()
    cursor.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c WHERE c.contype IN ('p', 'u') "
        "AND c.conrelid::regclass::text = ANY(%s) ORDER BY c.contype, 1, 2",
        [loose],
    )
    uniques = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
        "(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass) "
        "AND (i.tablename = ANY(%s) OR i.indexdef NOT LIKE 'CREATE UNIQUE%%')",
        [list(tables), loose],
    )
    indexes = cursor.fetchall()
    for table, name, _definition in keys:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for table, name, _definition in uniques:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    yield
    cursor.execute(f"SET maintenance_work_mem = '{os.environ.get('BENCH_MAINTENANCE_MEM', '1GB')}'")
    for table, name, definition in uniques:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _name, definition in indexes:
        cursor.execute(definition)
    for table, name, definition in keys:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def day_text(days: np.ndarray) -> list[str]:
    return [str(d) for d in np.asarray(days, dtype="datetime64[D]")]


def now_ms(now: datetime) -> int:
    return int(now.timestamp() * 1000)
