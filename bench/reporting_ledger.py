"""The reporting benchmark's incentive ledger (see ``bench.reporting_seed``):
the entries the application would have written for the seeded deals, with
its rules, rounding, keys, descriptions and checksums, booked when it would
have booked them, then the monthly payout runs that paid them (lines,
payout entries, settlements with close-to-paid days) and disputes resolved
by adjustment. Computed on arrays in exact integers and loaded with
``COPY``; ``check_accruals`` compares the accruals with the pandas
recomputation of ``bench.accruals``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from django.db import connection
from django.utils import timezone

from incentives.models import ExchangeRate, IncentiveSettings, PlanVersion
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import Role

from .reporting_books import (
    write_disputes,
    write_entries,
    write_runs,
    write_settlements,
    write_states,
)
from .reporting_copy import bulk_load, half_up, uuid7s
from .reporting_seed import SEED, Size

TABLES = (
    "incentives_ledgerentry",
    "incentives_settlement",
    "incentives_payoutline",
    "incentives_payoutrun",
    "incentives_dispute",
    "incentives_dealaccrualstate",
)
EPOCH = np.datetime64("1970-01-01", "D")


def signed_half_up(numerator: np.ndarray, denominator: int) -> np.ndarray:
    """Half away from zero for either sign (``incentives.money``'s rule)."""
    magnitude = half_up(np.abs(numerator), denominator)
    return np.where(numerator < 0, -magnitude, magnitude)


@dataclass
class Entries:
    """Ledger entries as parallel arrays (indexes into the seed's tables;
    -1 is none), appended group by group."""

    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    count: int = 0

    def add(self, **columns: np.ndarray) -> np.ndarray:
        n = len(next(iter(columns.values())))
        for name in COLUMNS:
            value = columns.get(name, -1)
            self.parts.setdefault(name, []).append(
                np.broadcast_to(np.asarray(value, dtype=np.int64), (n,)).copy()
            )
        start = self.count
        self.count += n
        return np.arange(start, self.count)

    def frame(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(values) for name, values in self.parts.items()}


COLUMNS = (
    "partner",
    "kind",
    "amount",
    "currency",
    "r8",
    "base",
    "source",
    "deal",
    "version",
    "dispute",
    "run",
    "reverses",
    "basis",
    "period_start",
    "effective",
    "available",
    "created_ms",
    "via",
    "by",
    "what",
)


def seed_ledger(tenant: Tenant, size: Size) -> dict:
    started = time.perf_counter()
    rng = np.random.default_rng(SEED + 3)
    now = timezone.now()
    now_ms = int(now.timestamp() * 1000)
    zone = tenant.timezone
    settings = IncentiveSettings.for_tenant(tenant)
    holding = settings.holding_days
    deals = load_deals(tenant)
    versions = list(
        PlanVersion.objects.filter(status="published")
        .select_related("plan")
        .prefetch_related("tiers", "regions", "product_lines")
        .order_by("plan__name")
    )
    n = len(deals)
    close = deals["close"].to_numpy()
    currencies = ["USD", "EUR", "GBP"]
    cur = deals["currency"].map({c: i for i, c in enumerate(currencies)}).to_numpy()
    r8 = rates_on(tenant, deals["currency"].to_numpy(), close)
    amount1 = deals["first_cents"].to_numpy()
    amount2 = deals["cents"].to_numpy()
    corrected = deals["corrected_ms"].notna().to_numpy()
    reversed_ = (deals["status"] == "reversed").to_numpy()
    outcome_ms = deals["outcome_ms"].to_numpy()
    changed_ms = np.where(
        corrected, deals["corrected_ms"].fillna(0), deals["reversed_ms"].fillna(0)
    ).astype(np.int64)
    close_days = (close.astype("datetime64[D]") - EPOCH).astype(np.int64)
    changed_days = local_days(changed_ms, zone)
    products = deals["products"].to_numpy()
    entries = Entries()
    for v_index, version in enumerate(versions):
        eligible = np.ones(n, dtype=bool)
        tiers = {str(t.pk) for t in version.tiers.all()}
        regions = {str(r.pk) for r in version.regions.all()}
        lines_ = {str(p.pk) for p in version.product_lines.all()}
        if tiers:
            eligible &= deals["tier"].isin(tiers).to_numpy()
        if regions:
            eligible &= deals["region"].isin(regions).to_numpy()
        if version.partner_types:
            eligible &= deals["partner_type"].isin(version.partner_types).to_numpy()
        if lines_:
            eligible &= np.fromiter((not lines_.isdisjoint(p) for p in products), bool, n)
        eligible &= close >= np.datetime64(version.effective_from)
        idx = np.flatnonzero(eligible)
        first = commission(version, amount1[idx], r8[idx])
        idx, first = idx[first > 0], first[first > 0]
        start_days = period_starts(close[idx], version.period)
        source = 1 if version.plan.kind == "spiff" else 0
        created = outcome_ms[idx] + 2000 + v_index
        ids = entries.add(
            partner=deals["partner_i"].to_numpy()[idx],
            kind=0,
            amount=first,
            currency=cur[idx],
            r8=r8[idx],
            base=signed_half_up(first * r8[idx], 10**8),
            source=source,
            deal=idx,
            version=v_index,
            basis=amount1[idx],
            period_start=start_days,
            effective=close_days[idx],
            available=close_days[idx] + holding,
            created_ms=created,
            via=0,
            what=0,
        )
        # A corrected win: the difference (zero too), on the new amount.
        fix = corrected[idx]
        j = idx[fix]
        delta = commission(version, amount2[j], r8[j]) - first[fix]
        entries.add(
            partner=deals["partner_i"].to_numpy()[j],
            kind=1,
            amount=delta,
            currency=cur[j],
            r8=r8[j],
            base=signed_half_up(delta * r8[j], 10**8),
            source=source,
            deal=j,
            version=v_index,
            basis=amount2[j],
            period_start=start_days[fix],
            effective=close_days[j],
            available=np.where(delta > 0, close_days[j] + holding, changed_days[j]),
            created_ms=changed_ms[j] + v_index,
            via=0,
            what=1,
        )
        # A reversed win: what was accrued, taken back.
        back = reversed_[idx]
        j = idx[back]
        entries.add(
            partner=deals["partner_i"].to_numpy()[j],
            kind=2,
            amount=-first[back],
            currency=cur[j],
            r8=r8[j],
            base=-signed_half_up(first[back] * r8[j], 10**8),
            source=source,
            deal=j,
            version=v_index,
            reverses=ids[back],
            basis=amount2[j],
            period_start=start_days[back],
            effective=changed_days[j],
            available=changed_days[j],
            created_ms=changed_ms[j] + v_index,
            via=0,
            what=2,
        )
    accruals = entries.count
    finance = list(Membership.objects.filter(role=Role.FINANCE).order_by("user__email"))
    disputes = dispute_adjustments(entries, rng, now_ms, zone)
    runs = pay(entries, tenant, now, zone, settings.minimum_payout)
    runs["partner_ids"] = deals.attrs["partners"]
    today_days = int((np.datetime64(tenant.local_today(now)) - EPOCH).astype(np.int64))
    log(f"ledger computed: {entries.count:,} entries", started)
    frame = entries.frame()
    ids = uuid7s(rng, frame["created_ms"])
    with connection.cursor() as cursor, bulk_load(cursor, TABLES):
        write_runs(cursor, tenant, runs, finance, rng, today_days)
        write_disputes(cursor, tenant, deals, disputes, frame, ids, finance, rng)
        written = write_entries(
            cursor, tenant, deals, versions, frame, ids, runs, disputes, finance, zone
        )
        log(f"ledger copied: {written:,} entries", started)
        settled = write_settlements(cursor, tenant, frame, ids, runs, rng, today_days)
        write_states(cursor, tenant, deals, frame, rng)
        log(f"settlements copied: {settled:,}", started)
    kinds = np.bincount(frame["kind"], minlength=4)
    return {
        "ledger_entries": written,
        "accruals": int(kinds[0]),
        "adjustments": int(kinds[1]),
        "clawbacks": int(kinds[2]),
        "payouts": int(kinds[3]),
        "deal_entries": accruals,
        "disputes": len(disputes["entry"]),
        "payout_runs": len(runs["cutoff"]),
        "settlements": settled,
    }


def log(what: str, started: float) -> None:
    print(f"seed: {what} ({time.perf_counter() - started:.1f}s)", flush=True)


def load_deals(tenant: Tenant) -> pd.DataFrame:
    """Won (and reversed) deals with their partner's dimensions, product
    lines, and the timeline's corrections (the first amount) and reversals."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT r.id::text, r.partner_id::text, r.code, r.customer_name, r.status,
                (r.won_amount * 100)::bigint, r.won_currency, r.won_close_date,
                (extract(epoch FROM r.outcome_recorded_at) * 1000)::bigint,
                p.tier_id::text, p.region_id::text, p.partner_type,
                ARRAY(SELECT x.productline_id::text FROM dealreg_dealregistration_product_lines x
                      WHERE x.dealregistration_id = r.id),
                (extract(epoch FROM c.created_at) * 1000)::bigint,
                ((c.data ->> 'previous_amount')::numeric * 100)::bigint,
                (extract(epoch FROM v.created_at) * 1000)::bigint,
                m.user_id::text
            FROM dealreg_dealregistration r
            JOIN partners_partner p ON p.id = r.partner_id
            LEFT JOIN dealreg_registrationevent c ON c.registration_id = r.id
                AND c.kind = 'outcome_corrected'
            LEFT JOIN dealreg_registrationevent v ON v.registration_id = r.id
                AND v.kind = 'reversed'
            LEFT JOIN LATERAL (SELECT user_id FROM tenancy_membership m
                WHERE m.partner_id = r.partner_id AND m.role = 'partner_admin' LIMIT 1) m ON true
            WHERE r.tenant_id = %s AND r.status IN ('won', 'reversed')
            ORDER BY r.id
            """,
            [tenant.pk],
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT id::text FROM partners_partner WHERE tenant_id = %s ORDER BY name", [tenant.pk]
        )
        partner_ids = [r[0] for r in cursor.fetchall()]
    deals = pd.DataFrame(
        rows,
        columns=[
            "id",
            "partner",
            "code",
            "customer",
            "status",
            "cents",
            "currency",
            "close",
            "outcome_ms",
            "tier",
            "region",
            "partner_type",
            "products",
            "corrected_ms",
            "first",
            "reversed_ms",
            "admin",
        ],
    )
    deals["close"] = pd.to_datetime(deals["close"]).to_numpy().astype("datetime64[D]")
    deals["first_cents"] = deals["first"].fillna(deals["cents"]).astype(np.int64)
    deals["products"] = deals["products"].map(set)
    position = {pk: i for i, pk in enumerate(partner_ids)}
    deals["partner_i"] = deals["partner"].map(position).astype(np.int64)
    deals.attrs["partners"] = partner_ids
    return deals


def rates_on(tenant: Tenant, currency: np.ndarray, close: np.ndarray) -> np.ndarray:
    """The rate in force on each close date, in 10**-8 (1 for the base)."""
    out = np.full(len(currency), 10**8, dtype=np.int64)
    for code in set(currency) - {tenant.base_currency}:
        rows = list(
            ExchangeRate.objects.filter(currency=code)
            .order_by("valid_from")
            .values_list("valid_from", "rate")
        )
        starts = np.array([r[0] for r in rows], dtype="datetime64[D]")
        values = np.array([int(r[1] * 10**8) for r in rows], dtype=np.int64)
        mine = currency == code
        at = np.searchsorted(starts, close[mine].astype("datetime64[D]"), side="right") - 1
        if (at < 0).any():
            raise ValueError(f"The seed has deals in {code} before its first rate.")
        out[mine] = values[at]
    return out


def commission(version: PlanVersion, cents: np.ndarray, r8: np.ndarray) -> np.ndarray:
    """``rules.deal_commission`` rounded to the cent, for the seed's rule
    types (percent with an optional cap, fixed), exactly."""
    if version.rate_type == PlanVersion.RateType.PERCENT:
        assert version.rate_percent is not None
        target = half_up(cents * int(version.rate_percent * 10**4), 10**6)
    elif version.rate_type == PlanVersion.RateType.FIXED:
        assert version.fixed_amount is not None
        target = half_up(
            np.full(len(cents), int(version.fixed_amount * 1000) * 10**7, dtype=np.int64), r8
        )
    else:
        raise ValueError(f"{version}: the seed computes percent and fixed rules only.")
    if version.cap_per_deal is not None:
        cap = half_up(
            np.full(len(cents), int(version.cap_per_deal * 1000) * 10**7, dtype=np.int64), r8
        )
        target = np.minimum(target, cap)
    return np.where(cents > 0, target, 0)


def period_starts(days: np.ndarray, period: str) -> np.ndarray:
    months = days.astype("datetime64[M]").astype(np.int64)
    step = {"month": 1, "quarter": 3, "year": 12}[period]
    months = months - months % step  # month 0 is January 1970
    return (months.astype("datetime64[M]").astype("datetime64[D]") - EPOCH).astype(np.int64)


def local_days(instants_ms: np.ndarray, zone: str) -> np.ndarray:
    """Each instant's day on the tenant's calendar (days since 1970)."""
    local = pd.to_datetime(instants_ms, unit="ms", utc=True).tz_convert(zone).tz_localize(None)
    return (local.normalize().values.astype("datetime64[D]") - EPOCH).astype(np.int64)


def local_ms(days: np.ndarray, minutes: int, zone: str) -> np.ndarray:
    """Milliseconds of a local time of day on each day."""
    local = pd.DatetimeIndex((EPOCH + days).astype("datetime64[ns]")) + pd.Timedelta(
        minutes=minutes
    )
    return local.tz_localize(zone).tz_convert("UTC").asi8 // 1_000_000


def dispute_adjustments(entries: Entries, rng, now_ms: int, zone: str) -> dict:
    """Disputes of 0.4% of the accruals a month old, resolved a few days
    later; 70% by an adjustment in the base currency."""
    frame = entries.frame()
    old = np.flatnonzero((frame["kind"] == 0) & (frame["created_ms"] < now_ms - 40 * 86_400_000))
    chosen = rng.choice(old, size=int(len(old) * 0.004), replace=False) if len(old) else old
    chosen.sort()
    opened = frame["created_ms"][chosen] + rng.integers(5, 25, len(chosen)) * 86_400_000
    resolved = opened + rng.integers(1, 8, len(chosen)) * 86_400_000
    adjusted = rng.random(len(chosen)) < 0.7
    extra = np.maximum(
        1, (frame["base"][chosen] * rng.uniform(0.03, 0.15, len(chosen))).astype(np.int64)
    )
    j = np.flatnonzero(adjusted)
    days = local_days(resolved[j], zone)
    ids = entries.add(
        partner=frame["partner"][chosen[j]],
        kind=1,
        amount=extra[j],
        currency=0,
        r8=10**8,
        base=extra[j],
        source=2,
        dispute=j,
        effective=days,
        available=days,
        period_start=days,
        created_ms=resolved[j],
        via=1,
        by=1,
    )
    adjustment = np.full(len(chosen), -1, dtype=np.int64)
    adjustment[j] = ids
    return {"entry": chosen, "opened": opened, "resolved": resolved, "adjustment": adjustment}


def pay(entries: Entries, tenant: Tenant, now, zone: str, minimum) -> dict:
    """Monthly runs (cutoff each month's end, started on the 1st, approved
    on the 2nd, paid on the 4th): each pays every partner whose unsettled
    entries payable by the cutoff (and booked before the run) come to the
    minimum payout; the rest wait for the next run."""
    frame = entries.frame()
    first_day = int(local_days(np.array([frame["created_ms"].min()]), zone)[0])
    today = tenant.local_today(now)
    month = np.datetime64(str(EPOCH + first_day), "M")
    last = np.datetime64(date(today.year, today.month, 1), "M") - 1
    cutoff, started, approved, paid_days = [], [], [], []
    now_ms = int(now.timestamp() * 1000)
    while month <= last:
        nxt = (month + 1).astype("datetime64[D]")
        if local_ms(np.array([int((nxt - EPOCH).astype(np.int64)) + 1]), 11 * 60, zone)[0] > now_ms:
            break
        cutoff.append(int((nxt - 1 - EPOCH).astype(np.int64)))
        base = int((nxt - EPOCH).astype(np.int64))
        started.append(local_ms(np.array([base]), 9 * 60, zone)[0])
        approved.append(local_ms(np.array([base + 1]), 11 * 60, zone)[0])
        paid_days.append(base + 3)
        month += 1
    cutoff_a, started_a = np.array(cutoff), np.array(started)
    first_run = np.maximum(
        np.searchsorted(cutoff_a, frame["available"], side="left"),
        np.searchsorted(started_a, frame["created_ms"], side="right"),
    )
    settled = np.full(entries.count, -1, dtype=np.int64)
    partners = int(frame["partner"].max()) + 1
    minimum_cents = int(minimum * 100)
    lines = []  # (run, partner, payable, entries, payout entry or -1)
    paid_by_run = []
    for r in range(len(cutoff)):
        candidate = (settled < 0) & (first_run <= r)
        who = frame["partner"][candidate]
        payable = np.bincount(who, weights=frame["base"][candidate], minlength=partners)
        payable = payable.round().astype(np.int64)
        counted = np.bincount(who, minlength=partners)
        ready = payable >= max(minimum_cents, 1)
        settled[candidate & ready[frame["partner"]]] = r
        payees = np.flatnonzero(ready)
        payout = {}
        if len(payees):
            day = local_days(np.array([approved[r]]), zone)[0]
            ids = entries.add(
                partner=payees,
                kind=3,
                amount=-payable[payees],
                currency=0,
                r8=10**8,
                base=-payable[payees],
                source=3,
                run=r,
                effective=day,
                available=day,
                period_start=day,
                created_ms=approved[r] + 60_000 + np.arange(len(payees)),
                via=2,
                by=2,
            )
            payout = dict(zip(payees.tolist(), ids.tolist(), strict=True))
            paid_by_run.append(np.full(len(payees), r))
        for p in np.flatnonzero(counted):
            lines.append((r, int(p), int(payable[p]), int(counted[p]), payout.get(int(p), -1)))
    settled = np.concatenate([settled, *paid_by_run])
    return {
        "cutoff": cutoff,
        "started": started,
        "approved": approved,
        "paid": paid_days,
        "settled": settled,
        "lines": lines,
    }
