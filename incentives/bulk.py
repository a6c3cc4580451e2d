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

**Tiers.** A version limited to tiers pays a deal when the partner held one
of them on the deal's close date (``partners.tiers``, as ``sync_deal``):
the partners' histories are read in one query with the partners, and a
partner that changed tier gets its candidate versions per stretch of its
history, looked up by close date (``bulk_inputs.Candidates``); the others,
almost all, keep one list.

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

import hashlib
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from dealreg.models import DealRegistration
from prm.tenancy.locks import advisory_xact_lock
from prm.tenancy.models import Tenant
from prm.tenancy.scoping import tenant_scope

from . import ledger, periods
from .bulk_copy import Chunk, InlineWriter, Move, ThreadWriter, escaped
from .bulk_inputs import (
    DEALS_SQL,
    ID_ORDER,
    SYNC_ORDER,
    Candidates,
    Ids,
    Rates,
    Totals,
    load_versions,
)
from .models import IncentiveSettings, LedgerEntry, canonical_decimal
from .money import round_money, to_base
from .rules import deal_commission

log = logging.getLogger(__name__)

Kind = LedgerEntry.Kind
DEFAULT_BATCH = 20_000  # deals read per fetch
DEFAULT_WORKERS = 2  # writer connections outside a transaction
WRITE_CHUNK = 20_000  # rows handed to a writer at once
VIA = "accrue_won_deals"


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
        advisory_xact_lock(f"incentives:bulk:{tenant.pk}")
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
    def __init__(
        self,
        tenant: Tenant,
        registration_ids: Iterable[Any] | None,
        batch_size: int,
        now: datetime,
        via: str,
        workers: int,
        inline: bool,
        *,
        direct: bool,
    ) -> None:
        self.tenant = tenant
        self.inline = inline
        self.batch_size = batch_size
        self.versions = load_versions(tenant)
        settings = IncentiveSettings.for_tenant(tenant)
        today = tenant.local_today(now)
        self.holding = timedelta(days=settings.holding_days)
        self.base = tenant.base_currency
        self.tenant_id = str(tenant.pk)
        self.rates = Rates(tenant)
        self.totals = Totals(tenant, self.versions, self.rates)
        self.ids = Ids()
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
        self.move: Move = {
            "direct": direct,
            "entry_prefix": "".join(escaped(f"{v}") + "\t" for v in constant),
            "state_prefix": f"{tenant.pk}\t",
        }
        self.synced_text = now.isoformat()
        # Partner eligibility depends on the deal only through the tier the
        # partner held on its close date: each partner's candidate versions
        # per stretch of its tier history, once (``Candidates``); and the
        # writer its entries go to.
        self.candidates = Candidates(tenant, self.versions)
        self.route: dict[str, int] = {
            pk: i % self.workers for i, pk in enumerate(self.candidates.partners)
        }
        self.params: dict[str, uuid.UUID | str | list[str]] = {
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
        writers: list[InlineWriter | ThreadWriter] = (
            [InlineWriter(self.move)]
            if self.inline
            else [ThreadWriter(self.move) for _ in range(self.workers)]
        )
        self.writers = writers
        self.entries: list[list[str]] = [[] for _ in writers]
        self.states: list[list[str]] = [[] for _ in writers]
        self.restates: list[list[str]] = [[] for _ in writers]
        try:
            self.pass_(ID_ORDER, dependent=False)
            if any(v.order_dependent for v in self.versions):
                self.pass_(SYNC_ORDER, dependent=True)
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
        self.writers[i].put(Chunk(*lines))
        self.stats["hand_over_s"] += time.perf_counter() - started

    def pass_(self, order: str, *, dependent: bool) -> None:
        """One read of the deals: the order-independent versions (and the
        accrual states) in id order, or the order-dependent ones in the
        order sync_deal is assumed to meet the deals."""
        sql = DEALS_SQL.format(order=order, **self.only)
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

    def compute(self, rows: list[tuple[Any, ...]], dependent: bool) -> None:
        rates, totals, starts = self.rates, self.totals, self.starts
        candidates, route = self.candidates, self.route
        independent, dependents = candidates.independent, candidates.dependent
        dated, on = candidates.dated, candidates.on
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
            if pid in dated:  # the partner changed tier: the close date's
                indep, deps = on(pid, close)
            else:
                indep, deps = independent.get(pid, []), dependents.get(pid, [])
            # The versions that cover the deal, whose products it names and
            # that have no entry on it yet.
            own = [
                v
                for v in deps
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
                    for v in indep
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
                    message = escaped(str(problem)[:300])
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
            tail_text = escaped(tail)
            texts = self.canon.get(rate)
            if texts is None:
                texts = self.canon[rate] = (canonical_decimal(rate), str(rate))
            rate_text, rate_value = texts
            basis = str(amount)
            out = entries_out[writer]
            for v, target, amount_base, start in made:
                idempotency_key = f"{v.source}:{rid}:{v.id}:1"
                checksum = sha256(
                    (
                        f"{tenant_id}|{pid}|{accrual}|{canonical_decimal(target)}|"
                        f"{currency}|{rate_text}|{canonical_decimal(amount_base)}|"
                        f"{v.source}|{rid}|{v.id}|{close_text}|{avail_text}|{idempotency_key}"
                    ).encode()
                ).hexdigest()
                description = v.prefix + tail
                if len(description) > 300:
                    description = escaped(description[:300])
                else:
                    description = v.prefix_text + tail_text
                out.append(
                    f"{pid}\t{target}\t{currency}\t{rate_value}\t{amount_base}\t"
                    f"{v.source}\t{rid}\t{v.id}\t{basis}\t{currency}\t{start}\t{close_text}\t"
                    f"{avail_text}\t{description}\t{idempotency_key}\t{checksum}\n"
                )
