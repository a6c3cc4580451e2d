"""The reporting benchmark's registrations (see ``bench.reporting_seed``):
generated with numpy, one row per registration in its final state, and its
product lines, conflicts and timeline events (requests for more
information and answers, outcome corrections and reversals, conflicts
found), loaded with ``COPY``."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pandas as pd
from django.db import connection
from django.utils import timezone

from dealreg.models import DealRegSettings, ProductLine
from prm.tenancy.models import Tenant

from .dealreg_seed import SYLLABLES, WORDS_A, WORDS_B
from .reporting_copy import (
    NULL,
    BusinessClock,
    bulk_load,
    codes,
    copy_rows,
    iso,
    ms,
    to_utc,
    uuid7s,
)
from .reporting_seed import REGIONS, SEED, WINDOW_DAYS, Size, partner_weights

SLA_MINUTES = 16 * 60
TABLES = (
    "dealreg_dealregistration",
    "dealreg_dealregistration_product_lines",
    "dealreg_registrationevent",
    "dealreg_conflict",
    "dealreg_activeclaim",
)
# Base commission plans every won deal collects besides its product lines'
# two (commission and SPIFF): all partners, the partner's type, its region,
# and the top tiers' accelerator for about half the deals.
BASE_ACCRUALS = 3.5


def partners_frame(tenant: Tenant) -> pd.DataFrame:
    """The partners in name order with what the registrations need: tier
    rank, region code, admin, channel manager, when they were active."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.id::text, t.rank, r.code, p.channel_manager_id::text,
                (SELECT m.user_id::text FROM tenancy_membership m WHERE m.partner_id = p.id
                 AND m.role = 'partner_admin' LIMIT 1),
                (SELECT min(h.history_date) FROM partners_historicalpartner h
                 WHERE h.id = p.id AND h.status = 'active'),
                (SELECT min(h.history_date) FROM partners_historicalpartner h
                 WHERE h.id = p.id AND h.status IN ('suspended', 'terminated'))
            FROM partners_partner p JOIN partners_tier t ON t.id = p.tier_id
            JOIN partners_region r ON r.id = p.region_id
            WHERE p.tenant_id = %s ORDER BY p.name
            """,
            [tenant.pk],
        )
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["id", "rank", "region", "cm", "admin", "from", "until"])
    frame["weight"] = partner_weights(len(frame))
    return frame


def seed_registrations(tenant: Tenant, size: Size) -> dict:
    started = time.perf_counter()
    rng = np.random.default_rng(SEED + 2)
    now = timezone.now()
    today = tenant.local_today(now)
    zone = tenant.timezone
    window_start = pd.Timestamp(today) - pd.Timedelta(days=WINDOW_DAYS)
    partners = partners_frame(tenant)
    clock = BusinessClock(
        DealRegSettings.for_tenant(tenant).calendar(),
        today - timedelta(days=WINDOW_DAYS + 10),
        today + timedelta(days=400),
    )
    n = size.registrations
    # --- Who and when -----------------------------------------------------------------
    start_day = (
        (
            pd.to_datetime(partners["from"], utc=True).dt.tz_convert(zone).dt.tz_localize(None)
            - window_start
        )
        .dt.days.fillna(10**6)
        .clip(lower=0)
        .to_numpy()
    )
    end_day = (
        (
            pd.to_datetime(partners["until"], utc=True).dt.tz_convert(zone).dt.tz_localize(None)
            - window_start
        )
        .dt.days.fillna(WINDOW_DAYS)
        .clip(upper=WINDOW_DAYS)
        .to_numpy()
    )
    able = start_day < end_day
    weight = np.where(able, partners["weight"].to_numpy() * (end_day - start_day) / WINDOW_DAYS, 0)
    partner = rng.choice(len(partners), size=n, p=weight / weight.sum())
    # Days: a growing trend, quarter-end peaks, quiet weekends; mapped into
    # each partner's active span.
    days = pd.date_range(window_start, periods=WINDOW_DAYS + 1, freq="D")
    density = (1 + 0.4 * np.arange(len(days)) / WINDOW_DAYS) * np.where(
        days.day_of_week >= 5, 0.15, 1
    )
    quarter_end = (days.month % 3 == 0) & (days.day >= 10)
    density = density * np.where(quarter_end, 1.35, 1.0)
    day = rng.choice(len(days), size=n, p=density / density.sum())
    lo, hi = start_day[partner], end_day[partner]
    day = np.where((day < lo) | (day > hi), lo + (day * (hi - lo)) // WINDOW_DAYS, day)
    local = pd.DatetimeIndex(window_start + pd.to_timedelta(day, unit="D")) + pd.to_timedelta(
        rng.normal(13 * 60, 150, n).clip(7 * 60, 21 * 60).astype(int), unit="m"
    )
    submitted = to_utc(local, zone)
    order = np.argsort(submitted.asi8, kind="stable")
    partner, local, submitted = partner[order], local[order], submitted[order]
    rank = partners["rank"].to_numpy()[partner]
    region = partners["region"].to_numpy()[partner]
    # --- The decision, in business minutes ------------------------------------------------
    begin = clock.minutes(local)
    age = (submitted.asi8 - submitted.asi8.min()) / max(1, np.ptp(submitted.asi8))
    worked = np.maximum(5, rng.lognormal(np.log(60 * (6.5 - 3 * age)), 1.0)).astype(np.int64)
    asked = rng.random(n) < 0.04
    asked_at = begin + (worked * 0.4).astype(np.int64)
    waited = np.where(asked, np.maximum(30, rng.lognormal(np.log(480), 0.8, n)).astype(np.int64), 0)
    answered_at = asked_at + waited
    decided_at_m = begin + worked + waited
    sla_due_m = begin + SLA_MINUTES + waited
    now_m = clock.minutes(pd.DatetimeIndex([pd.Timestamp(now).tz_convert(zone).tz_localize(None)]))[
        0
    ]
    now_ts = pd.Timestamp(now)
    pending = decided_at_m > now_m
    decided_local = clock.local(decided_at_m)
    decided = to_utc(decided_local, zone)
    rejected = ~pending & (rng.random(n) < np.array([0.13, 0.1, 0.07, 0.05])[rank - 1])
    approved = ~pending & ~rejected
    decided_day = decided_local.normalize()
    protection = 90 + np.where(rng.random(n) < 0.08, 30, 0)
    protected_until = decided_day + pd.to_timedelta(protection, unit="D")
    cycle = rng.lognormal(np.log(45), 0.6, n).astype(int) + 1
    outcome_day = decided_day + pd.to_timedelta(cycle, unit="D")
    today_ts = pd.Timestamp(today)
    expired = approved & (cycle > protection) & (protected_until < today_ts)
    open_ = approved & ~expired & ((cycle > protection) | (outcome_day > today_ts))
    closed = approved & ~expired & ~open_
    roll = rng.random(n)
    win_p = np.array([0.5, 0.55, 0.6, 0.66])[rank - 1]
    won = closed & (roll < win_p)
    withdrawn = closed & ~won & (roll > 0.93)
    lost = closed & ~won & ~withdrawn
    outcome_local = outcome_day + pd.to_timedelta(rng.integers(9 * 60, 18 * 60, n), unit="m")
    outcome_at = to_utc(outcome_local, zone)
    outcome_at = pd.DatetimeIndex(
        np.where(outcome_at > now_ts, now_ts - pd.Timedelta(minutes=5), outcome_at)
    )
    later = pd.to_timedelta(rng.integers(10, 120, n), unit="D")
    reversed_ = won & (rng.random(n) < 0.025) & (outcome_at + later < now_ts)
    corrected = won & ~reversed_ & (rng.random(n) < 0.02) & (outcome_at + later < now_ts)
    changed_at = outcome_at + later
    # --- Money ------------------------------------------------------------------------
    euro = np.isin(region, ["emea", "dach", "nordics"]) & (rng.random(n) < 0.14)
    currency = np.where(
        euro, np.where(region == "emea", np.where(rng.random(n) < 0.5, "GBP", "EUR"), "EUR"), "USD"
    )
    value = np.round(
        rng.lognormal(np.log(18000), 1.0, n) * np.array([0.7, 1.0, 1.4, 2.0])[rank - 1], -2
    ).clip(500, 5_000_000)
    first_amount = np.round(value * rng.uniform(0.75, 1.15, n), 0)
    won_amount = np.where(
        corrected, np.round(first_amount * rng.uniform(0.85, 1.2, n), 0), first_amount
    )
    # --- Status and texts ------------------------------------------------------------------
    status = np.select(
        [
            pending & asked & (asked_at <= now_m) & (answered_at > now_m),
            pending,
            rejected,
            expired,
            open_,
            reversed_,
            won,
            lost,
            withdrawn,
        ],
        [
            "more_info_requested",
            "submitted",
            "rejected",
            "expired",
            "approved",
            "reversed",
            "won",
            "lost",
            "withdrawn",
        ],
        "approved",
    )
    numbers = np.arange(n)
    code = codes("DR-", numbers, 7)
    words = np.array(SYLLABLES)
    a, b = np.array(WORDS_A), np.array(WORDS_B)
    s1, s2, s3 = (rng.integers(0, len(words), n) for _ in range(3))
    place = np.where(
        rng.random(n) < 0.25,
        np.char.add(" ", np.char.capitalize(a[rng.integers(0, len(a), n)])),
        "",
    )
    customer = np.char.add(
        np.char.add(
            np.char.capitalize(np.char.add(np.char.add(words[s1], words[s2]), words[s3])), place
        ),
        np.char.add(" ", np.char.capitalize(b[rng.integers(0, len(b), n)])),
    )
    countries = {code_: c for code_, _name, c in REGIONS}
    country = np.array([countries[r][i % len(countries[r])] for i, r in enumerate(region)])
    ids = uuid7s(rng, ms(submitted))
    tid = str(tenant.pk)
    pid = partners["id"].to_numpy()[partner]
    admin = partners["admin"].to_numpy()[partner]
    cm = partners["cm"].to_numpy()[partner]
    created = iso(submitted - pd.Timedelta(minutes=7))
    sub_t = iso(submitted)
    dec_t = iso(decided)
    due_t = iso(to_utc(clock.local(sla_due_m), zone))
    out_t = iso(outcome_at)
    chg_t = iso(pd.DatetimeIndex(changed_at))
    close_t = [str(d.date()) for d in outcome_day]
    prot_t = [str(d.date()) for d in protected_until]
    expect_t = [
        str(d.date())
        for d in (local.normalize() + pd.to_timedelta(rng.integers(20, 150, n), unit="D"))
    ]
    asked_local = clock.local(asked_at)
    asked_t = iso(to_utc(asked_local, zone))
    answered_t = iso(to_utc(clock.local(answered_at), zone))
    met = worked <= SLA_MINUTES
    ext = (protection > 90).astype(int)

    # Python lists: indexing them is several times quicker than numpy's.
    status_l, customer_l, country_l = status.tolist(), customer.tolist(), country.tolist()
    currency_l, corrected_l, met_l, ext_l = (
        currency.tolist(),
        corrected.tolist(),
        met.tolist(),
        ext.tolist(),
    )
    value_t = [f"{v:.2f}" for v in value.tolist()]
    won_t = [f"{v:.2f}" for v in won_amount.tolist()]
    pid_l, admin_l, cm_l = pid.tolist(), admin.tolist(), cm.tolist()
    asked_l, begin_l = asked_at.tolist(), begin.tolist()

    def row(i: int) -> str:
        st = status_l[i]
        is_decided = st not in ("submitted", "more_info_requested")
        is_closed = st in ("won", "reversed", "lost")
        win = st in ("won", "reversed")
        if st == "more_info_requested":
            paused, remaining = (
                asked_t[i],
                str(max(0, SLA_MINUTES - (asked_l[i] - begin_l[i])) * 60),
            )
        else:
            paused = remaining = NULL
        updated = (
            chg_t[i]
            if st == "reversed" or (st == "won" and corrected_l[i])
            else out_t[i]
            if is_closed
            else dec_t[i]
            if is_decided
            else sub_t[i]
        )
        return (
            "\t".join(
                (
                    ids[i],
                    tid,
                    code[i],
                    pid_l[i],
                    admin_l[i],
                    customer_l[i],
                    customer_l[i].lower(),
                    customer_l[i].lower().replace(" ", "-") + ".example",
                    country_l[i],
                    "",
                    "",
                    "",
                    "",
                    value_t[i],
                    currency_l[i],
                    expect_t[i],
                    "{}",
                    st,
                    "clear",
                    cm_l[i],
                    sub_t[i],
                    due_t[i],
                    paused,
                    remaining,
                    "1",
                    due_t[i] if st == "submitted" else NULL,
                    dec_t[i] if is_decided else NULL,
                    cm_l[i] if is_decided else NULL,
                    "Customer already engaged directly." if st == "rejected" else "",
                    ("t" if met_l[i] else "f") if is_decided else NULL,
                    prot_t[i]
                    if st in ("approved", "expired", "won", "lost", "withdrawn", "reversed")
                    else NULL,
                    str(ext_l[i]) if st != "rejected" and is_decided else "0",
                    won_t[i] if win else NULL,
                    currency_l[i] if win else "",
                    close_t[i] if win else NULL,
                    "Went with a competitor." if st == "lost" else "",
                    "Order cancelled by the customer." if st == "reversed" else "",
                    out_t[i] if is_closed else NULL,
                    created[i],
                    updated,
                )
            )
            + "\n"
        )

    columns = (
        "id",
        "tenant_id",
        "code",
        "partner_id",
        "submitted_by_id",
        "customer_name",
        "customer_name_normalized",
        "customer_domain",
        "customer_country",
        "customer_contact_name",
        "customer_contact_email",
        "customer_contact_phone",
        "description",
        "estimated_value",
        "currency",
        "expected_close_date",
        "custom_data",
        "status",
        "conflict_state",
        "approver_id",
        "submitted_at",
        "sla_due_at",
        "sla_paused_at",
        "sla_remaining_seconds",
        "sla_cycle",
        "sla_next_check_at",
        "decided_at",
        "decided_by_id",
        "decision_reason",
        "sla_met",
        "protected_until",
        "extension_count",
        "won_amount",
        "won_currency",
        "won_close_date",
        "lost_reason",
        "reversal_reason",
        "outcome_recorded_at",
        "created_at",
        "updated_at",
    )
    # Product lines: 1 + Poisson, the mean chosen so the ledger comes to
    # about the entries asked for (see the seed's module text).
    wins = int((won | reversed_).sum())
    lines_per_deal = float(
        np.clip(
            ((size.entries - 0.8 * size.partners * 24) / max(1, wins * 1.04) - BASE_ACCRUALS) / 2,
            1,
            len(ProductLine.objects.all()),
        )
    )
    product_ids = [
        str(p) for p in ProductLine.objects.order_by("code").values_list("id", flat=True)
    ]
    count = np.minimum(1 + rng.poisson(lines_per_deal - 1, n), len(product_ids))
    popularity = np.linspace(2.0, 0.5, len(product_ids))
    popularity /= popularity.sum()
    with connection.cursor() as cursor, bulk_load(cursor, TABLES, keep=["dealreg_activeclaim"]):
        copy_rows(cursor, "dealreg_dealregistration", columns, (row(i) for i in range(n)))
        log_time("registrations", started)

        # Weighted sampling without replacement, on arrays: each deal's
        # lines are those with the smallest exponential keys (Efraimidis and
        # Spirakis), the first ``count`` of them.
        keys = rng.exponential(1.0, (n, len(product_ids))) / popularity
        order = np.argsort(keys, axis=1)
        deal, place = np.nonzero(np.arange(len(product_ids)) < count[:, None])
        chosen = order[deal, place]
        m2m = copy_rows(
            cursor,
            "dealreg_dealregistration_product_lines",
            ("dealregistration_id", "productline_id"),
            (
                f"{ids[i]}\t{product_ids[c]}\n"
                for i, c in zip(deal.tolist(), chosen.tolist(), strict=True)
            ),
        )
        events = seed_events(
            cursor,
            rng,
            tid,
            ids,
            status,
            asked,
            asked_at,
            answered_at,
            now_m,
            asked_t,
            answered_t,
            admin,
            cm,
            corrected,
            reversed_,
            chg_t,
            first_amount,
            won_amount,
            close_t,
            currency,
        )
        conflicts = seed_conflicts(cursor, rng, tid, ids, pid, status, sub_t)
    return {
        "registrations": n,
        "registration_product_lines": m2m,
        "product_lines_per_deal": round(lines_per_deal, 2),
        "registration_events": events,
        "conflicts": conflicts,
        "statuses": dict(zip(*np.unique(status, return_counts=True), strict=True)),
        "non_base_currency_pct": round(100 * float((currency != "USD").mean()), 1),
    }


def log_time(what: str, started: float) -> None:
    print(f"seed: {what} copied ({time.perf_counter() - started:.1f}s)", flush=True)


def seed_events(
    cursor,
    rng,
    tid,
    ids,
    status,
    asked,
    asked_at,
    answered_at,
    now_m,
    asked_t,
    answered_t,
    admin,
    cm,
    corrected,
    reversed_,
    chg_t,
    first_amount,
    won_amount,
    close_t,
    currency,
) -> int:
    """The timeline rows the metrics and the ledger read: requests for more
    information and answers (turnaround), outcome corrections (with the
    previous amount) and reversals."""
    out: list[str] = []
    for i in np.flatnonzero(asked & (asked_at <= now_m)):
        out.append(
            _event(rng, tid, ids[i], "info_requested", cm[i], asked_t[i], "Which edition?", "{}")
        )
        if answered_at[i] <= now_m:
            out.append(
                _event(
                    rng, tid, ids[i], "info_provided", admin[i], answered_t[i], "Enterprise.", "{}"
                )
            )
    for i in np.flatnonzero(corrected):
        data = (
            f'{{"amount": "{won_amount[i]:.2f}", "previous_amount": "{first_amount[i]:.2f}", '
            f'"close_date": "{close_t[i]}", "previous_close_date": "{close_t[i]}", '
            f'"currency": "{currency[i]}"}}'
        )
        out.append(
            _event(rng, tid, ids[i], "outcome_corrected", cm[i], chg_t[i], "Final invoice.", data)
        )
    for i in np.flatnonzero(reversed_):
        out.append(
            _event(
                rng,
                tid,
                ids[i],
                "reversed",
                cm[i],
                chg_t[i],
                "Order cancelled by the customer.",
                '{"reason": "Order cancelled by the customer."}',
            )
        )
    return copy_rows(
        cursor,
        "dealreg_registrationevent",
        (
            "id",
            "tenant_id",
            "registration_id",
            "kind",
            "actor_id",
            "message",
            "visible_to_partner",
            "data",
            "created_at",
        ),
        out,
    )


def _event(rng, tid, registration, kind, actor, at, message, data) -> str:
    pk = uuid7s(rng, np.array([int(pd.Timestamp(at).timestamp() * 1000)]))[0]
    return f"{pk}\t{tid}\t{registration}\t{kind}\t{actor}\t{message}\tt\t{data}\t{at}\n"


def seed_conflicts(cursor, rng, tid, ids, pid, status, sub_t) -> int:
    """About 4% of registrations conflict with an earlier one of another
    partner (the conflict check stores it and notes it on the timeline)."""
    n = len(ids)
    chosen = np.flatnonzero((rng.random(n) < 0.04) & (np.arange(n) > 100))
    other = (chosen - rng.integers(1, 100, len(chosen))).clip(0)
    keep = pid[other] != pid[chosen]
    chosen, other = chosen[keep], other[keep]
    conflict_ids = uuid7s(
        rng,
        np.array([int(pd.Timestamp(sub_t[i]).timestamp() * 1000) for i in chosen], dtype=np.int64),
    )
    score = rng.uniform(0.6, 0.97, len(chosen))
    copy_rows(
        cursor,
        "dealreg_conflict",
        (
            "id",
            "tenant_id",
            "registration_id",
            "other_registration_id",
            "score",
            "reasons",
            "other_filed_first",
            "found_at",
        ),
        (
            f"{conflict_ids[k]}\t{tid}\t{ids[i]}\t{ids[other[k]]}\t{score[k]:.3f}\t"
            f'["Similar customer name"]\tt\t{sub_t[i]}\n'
            for k, i in enumerate(chosen)
        ),
    )
    found = [
        _event(rng, tid, ids[i], "conflicts_found", NULL, sub_t[i], "1 possible conflict.", "{}")
        for i in chosen
    ]
    copy_rows(
        cursor,
        "dealreg_registrationevent",
        (
            "id",
            "tenant_id",
            "registration_id",
            "kind",
            "actor_id",
            "message",
            "visible_to_partner",
            "data",
            "created_at",
        ),
        found,
    )
    cursor.execute(
        "UPDATE dealreg_dealregistration SET conflict_state = 'conflict' WHERE id = ANY(%s::uuid[])"
        " AND status IN ('submitted', 'more_info_requested')",
        [[ids[i] for i in chosen]],
    )
    return len(chosen)
