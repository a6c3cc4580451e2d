"""Accruing many won deals at once: backfills (``manage.py accrue_won_deals``),
a newly published plan covering past deals, the payouts benchmark.

``accrue_won_deals`` writes exactly the accruals ``ledger.sync_deal`` writes
deal by deal: for every won registration, one entry per published version of
an active commission or SPIFF plan that covers its close date, for which
partner and products qualify, and that has no entry on the deal yet. Same
exchange rate (in force on the close date), same rule arithmetic
(``rules.deal_commission``), same rounding (``money``), same idempotency key
(``<source>:<registration>:<version>:1``), dates, description and checksum.
It is set based: deals are read in batches as tuples through a server-side
cursor, computed in Python and streamed with PostgreSQL ``COPY`` straight
into the ledger and the accrual states (PostgreSQL then inserts a page of
rows at a time). Entries the ledger holds already are left out when the
deals are read, so a re-run writes nothing. One written after that read (a
``sync_deal`` of the same deal, running meanwhile) makes the ``COPY`` fail
on the idempotency key; everything the run wrote is then rolled back and it
runs again the careful way: ``COPY`` into a temporary table, moved with
``INSERT ... SELECT ... ON CONFLICT (tenant_id, idempotency_key) DO
NOTHING``, which keeps the entry already there. (The careful way costs
about 15 % more CPU on a million deals, so it is not the default.)

**Order.** Rules with a quota and accelerator, or a per-period cap, depend on
what the partner already earned in the rule period (``ledger._period_totals``:
the won volume of the deals the version paid on, and what it accrued). Those
versions are computed in a second pass over the deals sorted by (close date,
created_at, id), each partner's running totals carried per (version,
partner, period) from the entries already in the ledger, so the result is
the one ``sync_deal`` gives when it syncs the deals in that order. Every
other version is computed in a first pass in registration id order: the
ledger's indexes (idempotency key, registration) and the reference checks
of the new entries then walk the tables in order instead of at random, which
on a million deals halves the database's work. (The ledger's and the
accrual states' references are composite foreign keys on ``(tenant_id,
id)``, checked row by row by PostgreSQL: a writer connection checks them
at the end of each ``COPY``, the caller's transaction at its commit. A
reference that fails, e.g. a deal deleted meanwhile, fails the run; only
a unique violation sends it the careful way.)

**Transactions and locking.** A tenant-level advisory lock
(``incentives:bulk:<tenant>``), held until the call returns, keeps two bulk
runs of a tenant apart. Called inside a transaction (``atomic``), everything
is written in it. Otherwise the writes go through ``workers`` connections
of their own, each in one transaction, so PostgreSQL's index and reference
work (most of the cost) runs beside the computation, and all of them commit
only once every one has written its part. Every partner is given to one
connection,
which makes each partner's entries and accrual states all-or-nothing; should
a commit itself fail after another connection's succeeded, some partners
are done and a re-run completes the rest. Per-partner locks (``ledger.lock_partner``) are
not taken (thousands in one transaction would overflow the lock table); the
unique idempotency key makes a ``sync_deal`` running at the same time write
each entry once. With an order-dependent rule, such a concurrent sync of one
partner's deal sees the running totals without the bulk's uncommitted
entries -- the same outcome as syncing the two deals in the other order.

**What it leaves to ``sync_deal``.** Only first accruals are written.
Adjustments and clawbacks (a corrected or reversed deal with entries) are the
sweep's work: a registration that already had entries keeps its
``DealAccrualState`` as it was, so the sweep still reconciles it. A
registration without entries before the run was brought fully in line and is
marked synced, as ``sync_deal`` marks it. A deal whose exchange rate is
missing gets nothing (none of its versions, as with ``sync_deal``) and its
problem recorded the way the sync task records it; the sweep retries it once
the rate exists. Won registrations without a won amount or won currency (the
outcome service always sets both) are left to the sweep.
"""

import bisect
import contextlib
import hashlib
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import psycopg
from django.db import connection, transaction
from django.utils import timezone

from dealreg.models import DealRegistration
from partners.models import Partner
from prm.tenancy.models import Tenant
from prm.tenancy.scoping import tenant_scope

from . import ledger, periods
from .models import ExchangeRate, IncentiveSettings, LedgerEntry, Plan, canonical_decimal
from .money import ZERO, round_money, to_base
from .rules import Rule, deal_commission

log = logging.getLogger(__name__)

Kind = LedgerEntry.Kind
Source = LedgerEntry.Source
ONE = Decimal(1)
DEFAULT_BATCH = 20_000  # deals read per fetch
DEFAULT_WORKERS = 2  # writer connections outside a transaction
WRITE_CHUNK = 20_000  # rows handed to a writer at once
VIA = "accrue_won_deals"

# COPY's text format: these characters must be escaped inside a value.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escaped(text: str) -> str:
    """``text`` as a COPY value: most need no escape, and testing that is
    a tenth of the cost of ``translate``."""
    if "\\" in text or not text.isprintable():
        return text.translate(_COPY_ESCAPES)
    return text


# One COPY line per entry: the columns that are the same on every entry of
# a run, the id, then what the computation writes. Other columns are NULL.
_ENTRY_COLUMNS = (
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
_STATE_COLUMNS = ("tenant_id", "id", "registration_id", "synced_at", "problem")

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
INSERT INTO incentives_ledgerentry ({", ".join(_ENTRY_COLUMNS)})
SELECT {", ".join(_ENTRY_COLUMNS)} FROM incentives_bulk_entries
ORDER BY idempotency_key
ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
"""  # noqa: S608 (the column names are the code's, not input)

# The sync task's bookkeeping: synced now, or the problem that stopped it.
_MOVE_STATES = f"""
INSERT INTO incentives_dealaccrualstate ({", ".join(_STATE_COLUMNS)})
SELECT {", ".join(_STATE_COLUMNS)} FROM incentives_bulk_states
ORDER BY registration_id
ON CONFLICT (registration_id) DO UPDATE
SET synced_at = EXCLUDED.synced_at, problem = EXCLUDED.problem
"""  # noqa: S608 (the column names are the code's, not input)

# Won deals with the wanted product lines they name, the versions that
# already have entries on them, whether their accrual state needs writing
# and whether it exists.
_DEALS = """
SELECT r.id::text, r.partner_id::text, r.code, r.customer_name, r.won_amount, r.won_currency,
    r.won_close_date, pl.products, done.versions,
    (st.registration_id IS NULL OR st.synced_at IS NULL OR st.problem <> ''
     OR r.updated_at > st.synced_at),
    st.registration_id IS NOT NULL
FROM dealreg_dealregistration r
LEFT JOIN (
    SELECT x.dealregistration_id, array_agg(x.productline_id::text) AS products
    FROM dealreg_dealregistration_product_lines x
    WHERE x.productline_id = ANY(%(products)s::uuid[]) {only_products}
    GROUP BY x.dealregistration_id
) pl ON pl.dealregistration_id = r.id
LEFT JOIN (
    SELECT e.registration_id, array_agg(DISTINCT e.plan_version_id::text) AS versions
    FROM incentives_ledgerentry e
    WHERE e.tenant_id = %(tenant)s AND e.registration_id IS NOT NULL {only_entries}
    GROUP BY e.registration_id
) done ON done.registration_id = r.id
LEFT JOIN incentives_dealaccrualstate st ON st.registration_id = r.id
WHERE r.tenant_id = %(tenant)s AND r.status = %(won)s AND r.won_close_date IS NOT NULL
    AND r.won_amount IS NOT NULL AND r.won_currency <> '' {only_deals}
ORDER BY {order}
"""
_ID_ORDER = "r.id"
_SYNC_ORDER = "r.won_close_date, r.created_at, r.id"

# What the order-dependent versions already hold per (version, partner,
# period): everything accrued, and the won deals they paid on.
_ACCRUED = """
SELECT e.plan_version_id::text, e.partner_id::text, e.period_start, sum(e.amount_base)
FROM incentives_ledgerentry e
WHERE e.tenant_id = %(tenant)s AND e.plan_version_id = ANY(%(versions)s::uuid[])
GROUP BY 1, 2, 3
"""
_PAID_DEALS = """
SELECT DISTINCT e.plan_version_id::text, e.partner_id::text, e.period_start, r.id,
    r.won_amount, r.won_currency, r.won_close_date
FROM incentives_ledgerentry e
JOIN dealreg_dealregistration r ON r.id = e.registration_id
WHERE e.tenant_id = %(tenant)s AND e.plan_version_id = ANY(%(versions)s::uuid[])
    AND e.kind = %(accrual)s AND r.status = %(won)s
"""


@dataclass
class _Version:
    """A published version, flattened for the loop."""

    id: str
    source: str
    rule: Rule
    effective_from: date
    effective_to: date | None
    period: str
    products: frozenset
    tiers: frozenset
    regions: frozenset
    partner_types: frozenset
    order_dependent: bool
    prefix: str  # of the description
    prefix_text: str  # the same, escaped for COPY

    def eligible_partner(self, tier_id, partner_type, region_id) -> bool:
        """``ledger.partner_eligible``, on ids."""
        return (
            (not self.tiers or tier_id in self.tiers)
            and (not self.partner_types or partner_type in self.partner_types)
            and (not self.regions or region_id in self.regions)
        )


def _load_versions(tenant: Tenant) -> list[_Version]:
    result = []
    for v in ledger._versions(tenant, [Plan.Kind.COMMISSION, Plan.Kind.SPIFF]):
        rule = Rule.of(v)
        tiers, regions, products = ledger.eligibility(v)
        prefix = f"Accrual: {v.plan.name} v{v.number} on "
        result.append(
            _Version(
                id=str(v.pk),
                source=Source.SPIFF.value if v.plan.kind == Plan.Kind.SPIFF else Source.DEAL.value,
                rule=rule,
                effective_from=v.effective_from,
                effective_to=v.effective_to,
                period=v.period,
                products=frozenset(str(pk) for pk in products),
                tiers=frozenset(tiers),
                regions=frozenset(regions),
                partner_types=frozenset(v.partner_types or ()),
                order_dependent=rule.order_dependent,
                prefix=prefix,
                prefix_text=_escaped(prefix),
            )
        )
    return result


class _Rates:
    """``ledger.rate_on`` over the tenant's whole rate table, in memory."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.base = tenant.base_currency
        table: dict[str, list] = defaultdict(list)
        for currency, valid_from, rate in (
            ExchangeRate.objects.filter(tenant=tenant)
            .order_by("currency", "valid_from")
            .values_list("currency", "valid_from", "rate")
        ):
            table[currency].append((valid_from, rate))
        self.days = {c: [d for d, _ in rows] for c, rows in table.items()}
        self.rates = {c: [r for _, r in rows] for c, rows in table.items()}
        self.cache: dict = {}

    def on(self, currency: str, day: date) -> Decimal:
        """The rate, or ``ledger.NoRate`` with the message ``rate_on`` gives."""
        found = self.cache.get((currency, day))
        if found is None:
            if currency == self.base:
                found = ONE
            else:
                days = self.days.get(currency, ())
                i = bisect.bisect_right(days, day)
                if i:
                    found = self.rates[currency][i - 1]
                else:
                    # Let the ledger word the refusal (it finds no rate either).
                    try:
                        found = ledger.rate_on(self.tenant, currency, day)
                    except ledger.NoRate as problem:
                        found = problem
            self.cache[(currency, day)] = found
        if isinstance(found, ledger.NoRate):
            raise found
        return found


class _Totals:
    """Running (attainment, accrued) per (version, partner, period) for the
    order-dependent versions, seeded from the ledger; a key whose existing
    deals lack a rate holds the ``NoRate`` that ``_period_totals`` raises."""

    def __init__(self, tenant: Tenant, versions: list[_Version], rates: _Rates):
        self.values: dict = {}
        ids = [v.id for v in versions if v.order_dependent]
        if not ids:
            return
        params = {
            "tenant": tenant.pk,
            "versions": ids,
            "accrual": Kind.ACCRUAL.value,
            "won": DealRegistration.Status.WON.value,
        }
        accrued: dict = {}
        volume: dict = {}
        with connection.cursor() as cursor:
            cursor.execute(_ACCRUED, params)
            for vid, pid, start, total in cursor.fetchall():
                accrued[(vid, pid, start)] = total
            cursor.execute(_PAID_DEALS, params)
            for vid, pid, start, _rid, amount, currency, close in cursor.fetchall():
                key = (vid, pid, start)
                if isinstance(volume.get(key), ledger.NoRate):
                    continue
                try:
                    volume[key] = volume.get(key, ZERO) + amount * rates.on(currency, close)
                except ledger.NoRate as problem:
                    volume[key] = problem
        for key in accrued.keys() | volume.keys():
            found = volume.get(key, ZERO)
            self.values[key] = (
                found if isinstance(found, ledger.NoRate) else (found, accrued.get(key, ZERO))
            )

    def get(self, key):
        found = self.values.get(key)
        if found is None:
            return ZERO, ZERO
        if isinstance(found, ledger.NoRate):
            raise found
        return found


class _Ids:
    """Time-ordered UUIDs (version 7, as ``prm.tenancy.models.uuid7``) made
    a batch at a time, increasing in the order they are handed out: a 12-bit
    counter under the millisecond (RFC 9562's fixed-length counter method)."""

    def __init__(self):
        self.millis = time.time_ns() // 1_000_000
        self.count = 0

    def take(self, n: int) -> list[str]:
        if n == 0:
            return []
        seq = np.arange(self.count, self.count + n, dtype=np.uint64)
        self.count += n
        millis = np.uint64(self.millis) + (seq >> np.uint64(12))
        raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
        for i in range(6):
            raw[:, i] = ((millis >> np.uint64(8 * (5 - i))) & np.uint64(0xFF)).astype(np.uint8)
        counter = seq & np.uint64(0xFFF)
        raw[:, 6] = (np.uint64(0x70) | (counter >> np.uint64(8))).astype(np.uint8)
        raw[:, 7] = (counter & np.uint64(0xFF)).astype(np.uint8)
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
        text = raw.tobytes().hex()
        return [text[i : i + 32] for i in range(0, 32 * n, 32)]


# --- Writing ------------------------------------------------------------------------------


def _copy(cursor, table: str, columns: Iterable[str], lines: list[str]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for start in range(0, len(lines), 5000):
            copy.write("".join(lines[start : start + 5000]))


@dataclass
class _Chunk:
    """Whole COPY lines for one writer (the run's constant columns, the id,
    then what was computed): ``entries`` for the ledger, ``states`` to
    insert (the registration has none) and ``restates`` to upsert (it has
    one, or the run is not ``direct``)."""

    entries: list[str]
    states: list[str]
    restates: list[str]


def _write(cursor, chunk: _Chunk, move: dict, times: dict) -> int:
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
            _copy(cursor, "incentives_ledgerentry", _ENTRY_COLUMNS, lines)
            written = len(lines)
        else:
            _copy(cursor, "incentives_bulk_entries", _ENTRY_COLUMNS, lines)
            cursor.execute(_MOVE_ENTRIES)
            written = cursor.rowcount
            cursor.execute("TRUNCATE incentives_bulk_entries")
        times["entries_s"] += time.perf_counter() - started
    if chunk.states or chunk.restates:
        started = time.perf_counter()
        if chunk.states:  # only a direct run has them
            _copy(cursor, "incentives_dealaccrualstate", _STATE_COLUMNS, chunk.states)
        if chunk.restates:
            _copy(cursor, "incentives_bulk_states", _STATE_COLUMNS, chunk.restates)
            cursor.execute(_MOVE_STATES)
            cursor.execute("TRUNCATE incentives_bulk_states")
        times["states_s"] += time.perf_counter() - started
    return written


class _InlineWriter:
    """Writes on the caller's connection, in the caller's transaction."""

    def __init__(self, move: dict):
        self.move = move
        self.written = 0
        self.times = {"entries_s": 0.0, "states_s": 0.0}
        with connection.cursor() as cursor:
            cursor.execute(_CREATE_TEMP)

    def put(self, chunk: _Chunk) -> None:
        with connection.cursor() as cursor:
            self.written += _write(cursor, chunk, self.move, self.times)

    def close(self) -> None:
        pass

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass

    error = None


class _Abort(Exception):
    pass


_COMMIT = "commit"


class _ThreadWriter(threading.Thread):
    """Writes on a connection of its own, in one transaction, checking
    the remaining deferred foreign keys statement by statement (so the
    checks run beside the computation instead of piling up before the
    commit). ``close`` waits
    until everything handed over is written; the transaction then commits
    on ``commit`` and rolls back on ``abort`` (or an error), so the writers
    of a run commit only once all of them have succeeded."""

    def __init__(self, move: dict):
        super().__init__(name="incentives-bulk-writer", daemon=True)
        self.move = move
        self.inbox: queue.Queue = queue.Queue(maxsize=2)
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
                    self.written += _write(cursor, item, self.move, self.times)
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

    def put(self, chunk: _Chunk) -> None:
        self._send(chunk)
        if self.error is not None:
            raise self.error

    def _send(self, item) -> None:
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


# --- The calculation ----------------------------------------------------------------------


def accrue_won_deals(
    tenant: Tenant,
    *,
    registration_ids: Iterable | None = None,
    batch_size: int = DEFAULT_BATCH,
    now: datetime | None = None,
    workers: int = DEFAULT_WORKERS,
    via: str = VIA,
    stats: dict | None = None,
) -> int:
    """Write the missing first accruals of the tenant's won deals (all of
    them, or those in ``registration_ids``); return how many entries were
    written. ``stats``, when given, receives the counts and where the time
    went. See the module text for what it does and leaves to the sweep."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    now = now or timezone.now()
    inline = connection.in_atomic_block
    with tenant_scope(tenant), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"incentives:bulk:{tenant.pk}"],
            )
        args = (tenant, registration_ids, batch_size, now, via, workers, inline)
        try:
            # A savepoint: an inline run that meets a conflict leaves nothing.
            with transaction.atomic():
                run = _Run(*args, direct=True)
                written = run.execute()
        except Exception as error:
            if not _is_unique_violation(error):
                raise
            log.info("accrue_won_deals %s: met concurrent entries, running again", tenant.slug)
            run = _Run(*args, direct=False)
            written = run.execute()
    if stats is not None:
        stats.update(run.stats)
    return written


def _is_unique_violation(error: BaseException) -> bool:
    """A duplicate entry or accrual state, raised by psycopg itself (COPY)
    or wrapped by Django (an ``IntegrityError`` caused by it)."""
    return any(isinstance(e, psycopg.errors.UniqueViolation) for e in (error, error.__cause__))


class _Run:
    def __init__(self, tenant, registration_ids, batch_size, now, via, workers, inline, *, direct):
        self.tenant = tenant
        self.inline = inline
        self.batch_size = batch_size
        self.versions = _load_versions(tenant)
        settings = IncentiveSettings.for_tenant(tenant)
        today = ledger.local_today(tenant, now)
        self.holding = timedelta(days=settings.holding_days)
        self.base = tenant.base_currency
        self.tenant_id = str(tenant.pk)
        self.rates = _Rates(tenant)
        self.totals = _Totals(tenant, self.versions, self.rates)
        self.ids = _Ids()
        self.workers = 1 if inline else workers
        # What every line of the run starts with, before its id.
        constant = (
            tenant.pk,
            Kind.ACCRUAL.value,
            self.base,
            ledger.statement_start(tenant, today).isoformat(),
            via[:60],
            now.isoformat(),
        )
        self.move = {
            "direct": direct,
            "entry_prefix": "".join(_escaped(f"{v}") + "\t" for v in constant),
            "state_prefix": f"{tenant.pk}\t",
        }
        self.synced_text = now.isoformat()
        # Partner eligibility does not depend on the deal: each partner's
        # candidate versions, once; and the writer its entries go to.
        self.independent: dict[str, list[_Version]] = {}
        self.dependent: dict[str, list[_Version]] = {}
        self.route: dict[str, int] = {}
        partners = Partner.objects.filter(tenant=tenant).order_by("pk")
        for i, (pk, tier_id, kind, region_id) in enumerate(
            partners.values_list("id", "tier_id", "partner_type", "region_id")
        ):
            eligible = [v for v in self.versions if v.eligible_partner(tier_id, kind, region_id)]
            self.independent[str(pk)] = [v for v in eligible if not v.order_dependent]
            self.dependent[str(pk)] = [v for v in eligible if v.order_dependent]
            self.route[str(pk)] = i % self.workers
        self.params = {
            "tenant": tenant.pk,
            "won": DealRegistration.Status.WON.value,
            "products": sorted(set().union(*(v.products for v in self.versions))),
        }
        self.only = {"only_products": "", "only_entries": "", "only_deals": ""}
        if registration_ids is not None:
            self.params["ids"] = [str(pk) for pk in registration_ids]
            self.only = {
                "only_products": "AND x.dealregistration_id = ANY(%(ids)s::uuid[])",
                "only_entries": "AND e.registration_id = ANY(%(ids)s::uuid[])",
                "only_deals": "AND r.id = ANY(%(ids)s::uuid[])",
            }
        # Per-day and per-value caches: a million deals share a few hundred
        # close dates and rates.
        self.dates: dict = {}  # close date -> (its text, available-on text)
        self.starts: dict = {}
        self.canon: dict = {}
        self.stats = {
            "deals": 0,
            "entries": 0,
            "problems": 0,
            "read_s": 0.0,
            "compute_s": 0.0,
            "hand_over_s": 0.0,
        }

    def execute(self) -> int:
        writers = (
            [_InlineWriter(self.move)]
            if self.inline
            else [_ThreadWriter(self.move) for _ in range(self.workers)]
        )
        self.writers = writers
        self.entries: list[list[str]] = [[] for _ in writers]
        self.states: list[list[str]] = [[] for _ in writers]
        self.restates: list[list[str]] = [[] for _ in writers]
        try:
            self.pass_(_ID_ORDER, dependent=False)
            if any(v.order_dependent for v in self.versions):
                self.pass_(_SYNC_ORDER, dependent=True)
            for i in range(len(writers)):
                self.hand_over(i)
            for writer in writers:
                writer.close()
            errors = [w.error for w in writers if w.error is not None]
            if errors:
                raise errors[0]
            for writer in writers:
                writer.commit()
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        errors = [w.error for w in writers if w.error is not None]
        if errors:  # a commit failed after others succeeded
            raise errors[0]
        written = sum(w.written for w in writers)
        self.stats["entries"] = written
        for name in ("entries_s", "states_s"):
            self.stats[name] = sum(w.times[name] for w in writers)
        log.info(
            "accrue_won_deals %s: %s deals, %s entries, %s problems",
            self.tenant.slug,
            self.stats["deals"],
            written,
            self.stats["problems"],
        )
        return written

    def hand_over(self, i: int) -> None:
        lists = (self.entries, self.states, self.restates)
        if not any(found[i] for found in lists):
            return
        started = time.perf_counter()
        lines = []
        prefixes = (self.move["entry_prefix"], self.move["state_prefix"], self.move["state_prefix"])
        for found, prefix in zip(lists, prefixes, strict=True):
            ids = self.ids.take(len(found[i]))
            lines.append([f"{prefix}{pk}\t{line}" for pk, line in zip(ids, found[i], strict=True)])
            found[i] = []
        self.writers[i].put(_Chunk(*lines))
        self.stats["hand_over_s"] += time.perf_counter() - started

    def pass_(self, order: str, *, dependent: bool) -> None:
        """One read of the deals: the order-independent versions (and the
        accrual states) in id order, or the order-dependent ones in the
        order sync_deal is assumed to meet the deals."""
        sql = _DEALS.format(order=order, **self.only)
        with connection.chunked_cursor() as reader:
            reader.execute(sql, self.params)
            while True:
                started = time.perf_counter()
                rows = reader.fetchmany(self.batch_size)
                self.stats["read_s"] += time.perf_counter() - started
                if not rows:
                    break
                started = time.perf_counter()
                self.compute(rows, dependent)
                self.stats["compute_s"] += time.perf_counter() - started
                for i in range(len(self.writers)):
                    lists = (self.entries, self.states, self.restates)
                    if sum(len(found[i]) for found in lists) >= WRITE_CHUNK:
                        self.hand_over(i)

    def compute(self, rows, dependent: bool) -> None:
        rates, totals, starts = self.rates, self.totals, self.starts
        independent, dependents, route = self.independent, self.dependent, self.route
        entries_out, fresh_out, restates_out = self.entries, self.states, self.restates
        synced_line = f"\t{self.synced_text}\t\n"
        direct = self.move["direct"]
        base, holding, tenant_id = self.base, self.holding, self.tenant_id
        sha256 = hashlib.sha256
        accrual = Kind.ACCRUAL.value
        for row in rows:
            rid, pid, code, customer, amount, currency, close, products, done, stale, kept = row
            states_out = fresh_out if direct and not kept else restates_out
            if not dependent:
                self.stats["deals"] += 1
            # The versions that cover the deal, whose products it names and
            # that have no entry on it yet.
            own = [
                v
                for v in dependents.get(pid, ())
                if v.effective_from <= close
                and (v.effective_to is None or close <= v.effective_to)
                and (not v.products or (products and not v.products.isdisjoint(products)))
                and (done is None or v.id not in done)
            ]
            if dependent:
                pending = own
            else:
                pending = [
                    v
                    for v in independent.get(pid, ())
                    if v.effective_from <= close
                    and (v.effective_to is None or close <= v.effective_to)
                    and (not v.products or (products and not v.products.isdisjoint(products)))
                    and (done is None or v.id not in done)
                ]
            writer = route.get(pid, 0)
            synced = done is None and stale and not dependent
            if not pending and not own:
                if synced:
                    states_out[writer].append(rid + synced_line)
                continue
            made = []
            updates = []
            try:
                rate = rates.on(currency, close)
                if not dependent:
                    # sync_deal refuses the whole deal when the running
                    # totals of an order-dependent version need a missing
                    # rate: so does the first pass, for every version.
                    for v in own:
                        start = starts.get((close, v.period))
                        if start is None:
                            start = starts[(close, v.period)] = periods.period_start(
                                close, v.period
                            )
                        totals.get((v.id, pid, start))
                for v in pending:
                    start = starts.get((close, v.period))
                    if start is None:
                        start = starts[(close, v.period)] = periods.period_start(close, v.period)
                    if dependent:
                        key = (v.id, pid, start)
                        attainment, accrued = totals.get(key)
                        value = deal_commission(
                            v.rule,
                            amount,
                            rate=rate,
                            attainment_before=attainment,
                            accrued_in_period=accrued,
                        )
                    else:
                        value = deal_commission(v.rule, amount, rate=rate)
                    target = round_money(value, currency)
                    if target <= 0:
                        continue
                    amount_base = to_base(target, rate, base)
                    if dependent:
                        updates.append((key, attainment + amount * rate, accrued + amount_base))
                    made.append((v, target, amount_base, start))
            except ledger.NoRate as problem:
                if not dependent:
                    self.stats["problems"] += 1
                    message = _escaped(str(problem)[:300])
                    states_out[writer].append(f"{rid}\t\\N\t{message}\n")
                continue
            for key, attainment, accrued in updates:
                totals.values[key] = (attainment, accrued)
            if synced:
                states_out[writer].append(rid + synced_line)
            if not made:
                continue
            dates = self.dates.get(close)
            if dates is None:
                dates = self.dates[close] = (close.isoformat(), (close + holding).isoformat())
            close_text, avail_text = dates
            tail = f"{code} {customer}"
            tail_text = _escaped(tail)
            texts = self.canon.get(rate)
            if texts is None:
                texts = self.canon[rate] = (canonical_decimal(rate), str(rate))
            rate_text, rate_value = texts
            basis = str(amount)
            out = entries_out[writer]
            for v, target, amount_base, start in made:
                key = f"{v.source}:{rid}:{v.id}:1"
                checksum = sha256(
                    (
                        f"{tenant_id}|{pid}|{accrual}|{canonical_decimal(target)}|"
                        f"{currency}|{rate_text}|{canonical_decimal(amount_base)}|"
                        f"{v.source}|{rid}|{v.id}|{close_text}|{avail_text}|{key}"
                    ).encode()
                ).hexdigest()
                description = v.prefix + tail
                if len(description) > 300:
                    description = _escaped(description[:300])
                else:
                    description = v.prefix_text + tail_text
                out.append(
                    f"{pid}\t{target}\t{currency}\t{rate_value}\t{amount_base}\t"
                    f"{v.source}\t{rid}\t{v.id}\t{basis}\t{currency}\t{start}\t{close_text}\t"
                    f"{avail_text}\t{description}\t{key}\t{checksum}\n"
                )
