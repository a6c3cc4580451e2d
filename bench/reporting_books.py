"""How the reporting benchmark's ledger (``bench.reporting_ledger``) is
written: entries with the application's descriptions, keys and checksums
(``LedgerEntry.compute_checksum``), payout runs, their lines and
settlements, disputes and accrual states, each as ``COPY`` lines."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .reporting_copy import (
    NULL,
    canonical_cents,
    canonical_rate,
    cents_text,
    codes,
    copy_rows,
    uuid7s,
)

EPOCH = np.datetime64("1970-01-01", "D")
KINDS = ["accrual", "adjustment", "clawback", "payout"]
SOURCES = ["deal", "spiff", "dispute", "payout_run"]
VIAS = [
    "sync_deal",
    "incentives.disputes.resolve_with_adjustment",
    "incentives.payouts.write_payouts",
]
CURRENCIES = ["USD", "EUR", "GBP"]
RESOLUTION = "Commission recalculated on the final invoice."
CHUNK = 250_000


def day_texts(days: np.ndarray) -> dict[int, str]:
    unique = np.unique(days)
    return dict(
        zip(unique.tolist(), np.datetime_as_string(EPOCH + unique, unit="D").tolist(), strict=True)
    )


def instant_texts(instants_ms: np.ndarray) -> list[str]:
    text = np.datetime_as_string(instants_ms.astype("datetime64[ms]"), unit="ms")
    return [t.replace("T", " ") + "+00" for t in text.tolist()]


def month_starts(instants_ms: np.ndarray, zone: str) -> np.ndarray:
    local = pd.to_datetime(instants_ms, unit="ms", utc=True).tz_convert(zone).tz_localize(None)
    months = local.values.astype("datetime64[M]")
    return (months.astype("datetime64[D]") - EPOCH).astype(np.int64)


def run_ids(rng, runs: dict) -> list[str]:
    if "ids" not in runs:
        runs["ids"] = uuid7s(rng, np.array(runs["started"], dtype=np.int64))
    return runs["ids"]


def write_runs(cursor, tenant, runs: dict, finance, rng, today_days: int) -> None:
    ids = run_ids(rng, runs)
    tid = str(tenant.pk)
    maker, checker = (str(m.user_id) for m in finance[:2])
    totals: dict[int, list[int]] = {}
    for r, _p, payable, _count, payout in runs["lines"]:
        total = totals.setdefault(r, [0, 0])
        total[0] += 1
        if payout >= 0:
            total[1] += payable
    started = instant_texts(np.array(runs["started"], dtype=np.int64))
    approved = instant_texts(np.array(runs["approved"], dtype=np.int64))
    paid_at = instant_texts(
        np.array(runs["approved"], dtype=np.int64) + 2 * 86_400_000 + 4 * 3_600_000
    )
    numbers: dict[str, int] = {}
    rows = []
    for r, cutoff in enumerate(runs["cutoff"]):
        year = started[r][:4]
        numbers[year] = numbers.get(year, 0) + 1
        reference = f"PR-{year}-{numbers[year]:04d}"
        runs.setdefault("references", []).append(reference)
        count, total = totals.get(r, [0, 0])
        paid = runs["paid"][r] <= today_days
        rows.append(
            "\t".join(
                (
                    ids[r],
                    tid,
                    reference,
                    str(EPOCH + cutoff),
                    "paid" if paid else "approved",
                    "USD",
                    "50.00",
                    str(count),
                    str(count),
                    cents_text(total),
                    "",
                    maker,
                    started[r],
                    started[r],
                    checker,
                    approved[r],
                    maker if paid else NULL,
                    paid_at[r] if paid else NULL,
                    f"BANK-{reference[3:]}" if paid else "",
                )
            )
            + "\n"
        )
    copy_rows(
        cursor,
        "incentives_payoutrun",
        (
            "id",
            "tenant_id",
            "reference",
            "cutoff",
            "status",
            "currency",
            "minimum_payout",
            "partners_total",
            "partners_done",
            "total_payable",
            "error",
            "created_by_id",
            "created_at",
            "heartbeat_at",
            "approved_by_id",
            "approved_at",
            "paid_by_id",
            "paid_at",
            "payment_reference",
        ),
        rows,
    )


def write_entries(
    cursor, tenant, deals, versions, frame, ids, runs, disputes, finance, zone
) -> int:
    tid = str(tenant.pk)
    partners = deals.attrs["partners"]
    deal_ids = deals["id"].tolist()
    deal_codes = deals["code"].tolist()
    customers = deals["customer"].tolist()
    version_ids = [str(v.pk) for v in versions]
    prefixes = [f"{v.plan.name} v{v.number} on " for v in versions]
    run_ids_ = runs["ids"]
    references = runs["references"]
    cutoffs = [str(EPOCH + c) for c in runs["cutoff"]]
    dispute_ids, dispute_codes = disputes["ids"], disputes["codes"]
    by = ["", str(finance[0].user_id), str(finance[1].user_id)]
    dates = day_texts(
        np.concatenate([frame["period_start"], frame["effective"], frame["available"]])
    )
    statement = month_starts(frame["created_ms"], zone)
    dates.update(day_texts(statement))
    sha256 = hashlib.sha256
    names = (
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
        "by",
        "via",
    )
    rate_text: dict[int, str] = {}

    def chunks():
        """(index, column values...) a chunk at a time: Python lists of
        millions of ints would take gigabytes."""
        for lo in range(0, len(statement), CHUNK):
            hi = lo + CHUNK
            columns = [frame[c][lo:hi].tolist() for c in names]
            extra = (statement[lo:hi].tolist(), instant_texts(frame["created_ms"][lo:hi]))
            yield from zip(range(lo, lo + len(columns[0])), *columns, *extra, strict=True)

    def rows():
        for (
            i,
            p,
            kind,
            amount,
            cur,
            r8,
            base,
            source,
            deal,
            version,
            dispute,
            run,
            reverses,
            basis,
            period,
            effective,
            available,
            who,
            via,
            booked,
            created,
        ) in chunks():
            pid = partners[p]
            kind_t = KINDS[kind]
            source_t = SOURCES[source]
            currency = CURRENCIES[cur]
            rate = rate_text.get(r8)
            if rate is None:
                rate = rate_text[r8] = canonical_rate(r8)
            rid = deal_ids[deal] if deal >= 0 else ""
            vid = version_ids[version] if version >= 0 else ""
            if kind == 3:
                key = f"payout:{run_ids_[run]}:{pid}"
                text = f"Payout {references[run]}: earnings payable on or before {cutoffs[run]}"
            elif source == 2:
                key = f"dispute:{dispute_ids[dispute]}"
                text = f"Dispute {dispute_codes[dispute]} resolved: {RESOLUTION}"
            else:
                key = f"{source_t}:{rid}:{vid}:{1 if kind == 0 else 2}"
                what = "Accrual" if kind == 0 else "Deal corrected" if kind == 1 else "Clawback"
                text = f"{what}: {prefixes[version]}{deal_codes[deal]} {customers[deal]}"
                if kind == 2:
                    text += " (won, then reversed)"
            effective_t, available_t = dates[effective], dates[available]
            checksum = sha256(
                f"{tid}|{pid}|{kind_t}|{canonical_cents(amount)}|{currency}|{rate}|"
                f"{canonical_cents(base)}|{source_t}|{rid}|{vid}|{effective_t}|{available_t}|{key}".encode()
            ).hexdigest()
            yield (
                f"{ids[i]}\t{tid}\t{pid}\t{kind_t}\t{cents_text(amount)}\t{currency}\t{rate}\t"
                f"{cents_text(base)}\tUSD\t{source_t}\t{rid or NULL}\t{vid or NULL}\t"
                f"{dispute_ids[dispute] if dispute >= 0 else NULL}\t"
                f"{run_ids_[run] if run >= 0 else NULL}\t"
                f"{ids[reverses] if reverses >= 0 else NULL}\t"
                f"{cents_text(basis) if basis >= 0 and deal >= 0 else NULL}\t"
                f"{currency if deal >= 0 else ''}\t{dates[period]}\t{dates[booked]}\t"
                f"{effective_t}\t{available_t}\t{text[:300]}\t{by[who] if who > 0 else NULL}\t"
                f"{VIAS[via]}\t{created}\t{key}\t{checksum}\n"
            )

    return copy_rows(
        cursor,
        "incentives_ledgerentry",
        (
            "id",
            "tenant_id",
            "partner_id",
            "kind",
            "amount",
            "currency",
            "fx_rate",
            "amount_base",
            "base_currency",
            "source",
            "registration_id",
            "plan_version_id",
            "dispute_id",
            "payout_run_id",
            "reverses_id",
            "basis_amount",
            "basis_currency",
            "period_start",
            "statement_start",
            "effective_date",
            "available_on",
            "description",
            "created_by_id",
            "created_via",
            "created_at",
            "idempotency_key",
            "checksum",
        ),
        rows(),
    )


def write_disputes(cursor, tenant, deals, disputes, frame, ids, finance, rng) -> None:
    n = len(disputes["entry"])
    disputes["ids"] = uuid7s(rng, disputes["opened"])
    disputes["codes"] = codes("DP-", np.arange(n), 11)
    partners = deals.attrs["partners"]
    admins = deals["admin"].tolist()
    opened = instant_texts(disputes["opened"])
    resolved = instant_texts(disputes["resolved"])
    resolver = str(finance[0].user_id)
    rows = []
    for k in range(n):
        entry = int(disputes["entry"][k])
        adjustment = int(disputes["adjustment"][k])
        rows.append(
            "\t".join(
                (
                    disputes["ids"][k],
                    str(tenant.pk),
                    disputes["codes"][k],
                    partners[frame["partner"][entry]],
                    ids[entry],
                    admins[frame["deal"][entry]],
                    "adjusted" if adjustment >= 0 else "rejected",
                    RESOLUTION if adjustment >= 0 else "The accrual follows the plan.",
                    resolver,
                    resolved[k],
                    ids[adjustment] if adjustment >= 0 else NULL,
                    opened[k],
                )
            )
            + "\n"
        )
    copy_rows(
        cursor,
        "incentives_dispute",
        (
            "id",
            "tenant_id",
            "code",
            "partner_id",
            "entry_id",
            "opened_by_id",
            "status",
            "resolution",
            "resolved_by_id",
            "resolved_at",
            "adjustment_id",
            "created_at",
        ),
        rows,
    )


def write_settlements(cursor, tenant, frame, ids, runs, rng, today_days: int) -> int:
    """Payout lines, and a settlement per entry a payout paid (the payout's
    own included): paid on the run's paid day, close-to-paid days for
    accruals (``incentives.payouts.paid``)."""
    tid = str(tenant.pk)
    partners = runs["partner_ids"]
    run_ids_ = runs["ids"]
    payout_of: dict[tuple[int, int], int] = {}
    lines = []
    line_ids = uuid7s(
        rng, np.array([runs["started"][r] for r, *_ in runs["lines"]], dtype=np.int64)
    )
    for k, (r, p, payable, count, payout) in enumerate(runs["lines"]):
        status = "written" if payout >= 0 else "negative" if payable < 0 else "below_minimum"
        if payout >= 0:
            payout_of[(r, p)] = payout
        lines.append(
            f"{line_ids[k]}\t{tid}\t{run_ids_[r]}\t{partners[p]}\t{status}\t{cents_text(payable)}\t"
            f"{count}\t\t{ids[payout] if payout >= 0 else NULL}\n"
        )
    copy_rows(
        cursor,
        "incentives_payoutline",
        (
            "id",
            "tenant_id",
            "run_id",
            "partner_id",
            "status",
            "payable",
            "entry_count",
            "hold_reason",
            "payout_entry_id",
        ),
        lines,
    )
    settled = np.flatnonzero(runs["settled"] >= 0)
    run_of = runs["settled"][settled]
    paid_day = np.array(runs["paid"])[run_of]
    settlement_ids = uuid7s(rng, np.array(runs["approved"])[run_of] + 120_000)
    paid_text = day_texts(paid_day)
    # Python lists: indexing them is several times quicker than numpy's.
    who = frame["partner"][settled].tolist()
    accrual = ((frame["kind"][settled] == 0) & (frame["deal"][settled] >= 0)).tolist()
    days = (paid_day - frame["effective"][settled]).tolist()
    paid = (paid_day <= today_days).tolist()
    run_l, paid_l, settled_l = run_of.tolist(), paid_day.tolist(), settled.tolist()

    def rows():
        for k, e in enumerate(settled_l):
            r, p, on = run_l[k], who[k], paid[k]
            yield (
                f"{settlement_ids[k]}\t{tid}\t{ids[e]}\t{ids[payout_of[(r, p)]]}\t{run_ids_[r]}\t"
                f"{partners[p]}\t{paid_text[paid_l[k]] if on else NULL}\t"
                f"{days[k] if on and accrual[k] else NULL}\n"
            )

    return copy_rows(
        cursor,
        "incentives_settlement",
        (
            "id",
            "tenant_id",
            "entry_id",
            "payout_id",
            "run_id",
            "partner_id",
            "paid_on",
            "days_close_to_paid",
        ),
        rows(),
    )


def write_states(cursor, tenant, deals, frame, rng) -> None:
    """Each won (or reversed) deal's accrual state: synced when its last
    entry was written."""
    mine = frame["deal"] >= 0
    last = np.zeros(len(deals), dtype=np.int64)
    np.maximum.at(last, frame["deal"][mine], frame["created_ms"][mine])
    last = np.where(last > 0, last, deals["outcome_ms"].to_numpy())
    synced = instant_texts(last)
    state_ids = uuid7s(rng, last)
    tid = str(tenant.pk)
    copy_rows(
        cursor,
        "incentives_dealaccrualstate",
        ("id", "tenant_id", "registration_id", "synced_at", "problem"),
        (
            f"{state_ids[k]}\t{tid}\t{pk}\t{synced[k]}\t\n"
            for k, pk in enumerate(deals["id"].tolist())
        ),
    )
