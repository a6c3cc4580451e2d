"""What ``bench_payouts`` measures the bulk accrual against: the same
accruals as one hand-made SQL ``INSERT ... SELECT``, and recomputed
independently with pandas in exact integer arithmetic."""

import io

import numpy as np
import pandas as pd
from django.core.management.base import CommandError
from django.db import connection

from incentives import ledger
from incentives.models import ExchangeRate, IncentiveSettings, Plan, PlanVersion

# --- The hand-made SQL -------------------------------------------------------------------

# Every won deal with every published version of an active commission or
# SPIFF plan that covers its close date and for which partner and products
# qualify; the rate in force on the close date (LATERAL), the rule (percent,
# fixed, whole or marginal brackets with bounds converted at the deal's
# rate, cap per deal), rounded half away from zero to the cent (ROUND on
# numeric), the base amount, key, description and checksum as the ledger
# writes them. Order-dependent rules (quota, per-period cap) are not in the
# bench's plans; this query refuses them rather than computing them wrong.
ACCRUAL_SQL = """
WITH v AS MATERIALIZED (
    SELECT v.id, v.effective_from, v.effective_to, v.rate_type, v.rate_percent,
        v.fixed_amount, v.cap_per_deal, v.period, v.partner_types, v.number,
        CASE WHEN p.kind = 'spiff' THEN 'spiff' ELSE 'deal' END AS source,
        'Accrual: ' || p.name || ' v' || v.number || ' on ' AS prefix,
        ARRAY(SELECT t.tier_id FROM incentives_planversion_tiers t
              WHERE t.planversion_id = v.id) AS tiers,
        ARRAY(SELECT g.region_id FROM incentives_planversion_regions g
              WHERE g.planversion_id = v.id) AS regions,
        ARRAY(SELECT x.productline_id FROM incentives_planversion_product_lines x
              WHERE x.planversion_id = v.id) AS products
    FROM incentives_planversion v JOIN incentives_plan p ON p.id = v.plan_id
    WHERE v.tenant_id = %(tenant)s AND v.status = 'published' AND p.is_active
        AND p.kind IN ('commission', 'spiff')
        AND (v.quota IS NULL OR v.accelerator IS NULL) AND v.cap_per_period IS NULL
), done AS MATERIALIZED (
    -- read before the first row is written, not re-scanned while writing
    SELECT e.registration_id, e.plan_version_id FROM incentives_ledgerentry e
    WHERE e.tenant_id = %(tenant)s AND e.registration_id IS NOT NULL
), d AS MATERIALIZED (
    SELECT r.id, r.partner_id, r.code, r.customer_name, r.won_amount AS amount,
        r.won_currency AS currency, r.won_close_date AS close, pa.tier_id, pa.partner_type,
        pa.region_id,
        CASE WHEN r.won_currency = %(base)s THEN 1::numeric ELSE fx.rate END AS rate
    FROM dealreg_dealregistration r
    JOIN partners_partner pa ON pa.id = r.partner_id
    LEFT JOIN LATERAL (
        SELECT x.rate FROM incentives_exchangerate x
        WHERE x.tenant_id = r.tenant_id AND x.currency = r.won_currency
            AND x.valid_from <= r.won_close_date AND r.won_currency <> %(base)s
        ORDER BY x.valid_from DESC LIMIT 1
    ) fx ON true
    WHERE r.tenant_id = %(tenant)s AND r.status = %(won)s AND r.won_close_date IS NOT NULL
        AND r.won_amount IS NOT NULL AND r.won_currency <> ''
), pairs AS MATERIALIZED (
    SELECT d.*, v.id AS version_id, v.rate_type, v.rate_percent, v.fixed_amount,
        v.cap_per_deal, v.source, v.prefix,
        date_trunc(CASE v.period WHEN 'month' THEN 'month' WHEN 'quarter' THEN 'quarter'
                   ELSE 'year' END, d.close)::date AS period_start
    FROM d JOIN v ON v.effective_from <= d.close
        AND (v.effective_to IS NULL OR d.close <= v.effective_to)
        AND (cardinality(v.tiers) = 0 OR d.tier_id = ANY(v.tiers))
        AND (cardinality(v.regions) = 0 OR d.region_id = ANY(v.regions))
        AND (cardinality(v.partner_types) = 0 OR d.partner_type = ANY(v.partner_types))
        AND (cardinality(v.products) = 0 OR EXISTS (
            SELECT 1 FROM dealreg_dealregistration_product_lines rp
            WHERE rp.dealregistration_id = d.id AND rp.productline_id = ANY(v.products)))
    WHERE d.rate IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM done WHERE done.registration_id = d.id AND done.plan_version_id = v.id)
), computed AS MATERIALIZED (
    SELECT pairs.*, round(CASE WHEN amount <= 0 THEN 0 ELSE LEAST(
        CASE rate_type
            WHEN 'percent' THEN amount * rate_percent / 100
            WHEN 'fixed' THEN fixed_amount / rate
            WHEN 'brackets_whole' THEN amount * coalesce((
                SELECT b.rate_percent FROM incentives_bracket b
                WHERE b.version_id = pairs.version_id AND amount >= b.lower / rate
                ORDER BY b.lower DESC LIMIT 1), 0) / 100
            ELSE (
                SELECT coalesce(sum((LEAST(amount, b.upper / rate) - b.lower / rate)
                    * b.rate_percent / 100), 0)
                FROM (SELECT x.lower * 1.00000000000000000000 AS lower, x.rate_percent,
                          lead(x.lower) OVER (ORDER BY x.lower) * 1.00000000000000000000
                              AS upper
                      FROM incentives_bracket x WHERE x.version_id = pairs.version_id) b
                WHERE amount > b.lower / rate)
        END,
        cap_per_deal / rate) END, 2) AS target
    FROM pairs
), entries AS (
    SELECT computed.*, round(target * rate, 2) AS amount_base,
        close + %(holding)s AS available_on,
        source || ':' || id || ':' || version_id || ':1' AS key
    FROM computed WHERE target > 0
)
INSERT INTO incentives_ledgerentry (
    id, tenant_id, partner_id, kind, amount, currency, fx_rate, amount_base, base_currency,
    source, registration_id, plan_version_id, basis_amount, basis_currency, period_start,
    statement_start, effective_date, available_on, description, created_via, created_at,
    idempotency_key, checksum)
SELECT
    encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
        substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
    %(tenant)s, partner_id, 'accrual', target, currency, rate, amount_base, %(base)s,
    source, id, version_id, amount, currency, period_start, %(statement_start)s, close,
    available_on, left(prefix || code || ' ' || customer_name, 300), %(via)s, %(now)s, key,
    encode(sha256(convert_to(concat_ws('|', %(tenant)s::text, partner_id::text, 'accrual',
        trim_scale(target)::text, currency, trim_scale(rate)::text,
        trim_scale(amount_base)::text, source, id::text, version_id::text, close::text,
        available_on::text, key), 'UTF8')), 'hex')
FROM entries
ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
"""


# --- The independent recomputation (pandas, exact integers) --------------------------------


def read_frame(cursor, sql: str, params) -> pd.DataFrame:
    """A query's result through COPY ... TO STDOUT (CSV) into a DataFrame."""
    query = connection.ops.compose_sql(sql, params)
    buffer = io.BytesIO()
    with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=str, keep_default_na=False)


def scaled(values: pd.Series, digits: int) -> pd.Series:
    """Decimal text as exact integers of 10**-digits (object dtype: Python
    ints, no overflow, no float)."""

    def one(text: str) -> int:
        sign = -1 if text.startswith("-") else 1
        whole, _, frac = text.lstrip("-").partition(".")
        frac = (frac + "0" * digits)[:digits]
        if text.lstrip("-").partition(".")[2][digits:].strip("0"):
            raise ValueError(f"{text} has more than {digits} decimals")
        return sign * int((whole or "0") + frac)

    return values.map(one).astype(object)


def half_up(numerator: pd.Series, denominator) -> pd.Series:
    """numerator / denominator rounded half away from zero (non-negative
    numerators here), exactly."""
    return (2 * numerator + denominator) // (2 * denominator)


def expected_accruals(tenant) -> pd.DataFrame:
    """Every accrual the rules call for, computed independently of
    ``incentives.rules`` in exact integer arithmetic: amounts in cents,
    rates in 10**-8, percentages in 10**-4, rule amounts in 10**-3."""
    with connection.cursor() as cursor:
        deals = read_frame(
            cursor,
            "SELECT r.id, r.partner_id, r.won_amount, r.won_currency, r.won_close_date, "
            "p.tier_id, p.partner_type, coalesce(p.region_id::text, '') AS region_id "
            "FROM dealreg_dealregistration r JOIN partners_partner p ON p.id = r.partner_id "
            "WHERE r.tenant_id = %s AND r.status = 'won' AND r.won_close_date IS NOT NULL "
            "AND r.won_amount IS NOT NULL AND r.won_currency <> ''",
            [tenant.pk],
        )
        product_rows = read_frame(
            cursor,
            "SELECT x.dealregistration_id AS id, x.productline_id FROM "
            "dealreg_dealregistration_product_lines x JOIN dealreg_dealregistration r "
            "ON r.id = x.dealregistration_id WHERE r.tenant_id = %s",
            [tenant.pk],
        )
    deals["cents"] = scaled(deals["won_amount"], 2)
    deals["close"] = pd.to_datetime(deals["won_close_date"])
    # The rate in force on the close date: the latest valid_from <= close.
    rates = pd.DataFrame(
        list(ExchangeRate.objects.values_list("currency", "valid_from", "rate")),
        columns=["currency", "valid_from", "rate"],
    )
    rates["valid_from"] = pd.to_datetime(rates["valid_from"]).astype(deals["close"].dtype)
    rates["r8"] = scaled(rates["rate"].map(str), 8)
    deals = deals.sort_values("close")
    deals["r8"] = None
    base = deals["won_currency"] == tenant.base_currency
    deals.loc[base, "r8"] = 10**8
    foreign = deals[~base]
    if len(foreign):
        matched = pd.merge_asof(
            foreign[["close", "won_currency"]].reset_index(),
            rates.sort_values("valid_from")[["valid_from", "currency", "r8"]],
            left_on="close",
            right_on="valid_from",
            left_by="won_currency",
            right_by="currency",
        ).set_index("index")
        deals.loc[matched.index, "r8"] = matched["r8"]
    deals = deals[deals["r8"].notna()].copy()  # a missing rate: nothing accrued
    settings = IncentiveSettings.for_tenant(tenant)
    holding = np.timedelta64(settings.holding_days, "D")
    frames = []
    for version in ledger._versions(tenant, [Plan.Kind.COMMISSION, Plan.Kind.SPIFF]):
        if version.cap_per_period is not None or version.quota is not None:
            raise CommandError(f"{version}: order-dependent rules are not in this check.")
        eligible = deals[
            (deals["close"] >= pd.Timestamp(version.effective_from))
            & (
                True
                if version.effective_to is None
                else deals["close"] <= pd.Timestamp(version.effective_to)
            )
        ]
        tiers = {str(t.pk) for t in version.tiers.all()}
        regions = {str(g.pk) for g in version.regions.all()}
        products = {str(p.pk) for p in version.product_lines.all()}
        if tiers:
            eligible = eligible[eligible["tier_id"].isin(tiers)]
        if regions:
            eligible = eligible[eligible["region_id"].isin(regions)]
        if version.partner_types:
            eligible = eligible[eligible["partner_type"].isin(version.partner_types)]
        if products:
            named = product_rows.loc[product_rows["productline_id"].isin(products), "id"]
            eligible = eligible[eligible["id"].isin(set(named))]
        eligible = eligible[eligible["cents"] > 0].copy()
        w, r8 = eligible["cents"], eligible["r8"]
        if version.rate_type == PlanVersion.RateType.PERCENT:
            p4 = int(version.rate_percent * 10**4)
            target = half_up(w * p4, 10**6)  # cents * %·10^4 / (100 · 10^4)
        elif version.rate_type == PlanVersion.RateType.FIXED:
            f3 = int(version.fixed_amount * 1000)
            # (f3 / 10^3) / (r8 / 10^8) units, in cents
            target = half_up(pd.Series(f3 * 10**7, index=r8.index, dtype=object), r8)
        else:
            # Compare and slice in base units of 10**-10: deal cents * r8
            # against bounds * 10**10.
            x = w * r8
            bounds = [
                (int(b.lower * 1000) * 10**7, int(b.rate_percent * 10**4))
                for b in sorted(version.brackets.all(), key=lambda b: b.lower)
            ]
            if version.rate_type == PlanVersion.RateType.BRACKETS_WHOLE:
                p4 = pd.Series(0, index=eligible.index, dtype=object)
                for lower, percent in bounds:
                    p4 = p4.where(~(x >= lower), percent)
                target = half_up(w * p4, 10**6)
            else:
                total = pd.Series(0, index=eligible.index, dtype=object)
                for i, (lower, percent) in enumerate(bounds):
                    upper = bounds[i + 1][0] if i + 1 < len(bounds) else None
                    top = x if upper is None else x.where(x < upper, upper)
                    part = (top - lower) * percent
                    total = total + part.where(x > lower, 0)
                # sum(slice · p4) / (10^10 · r8/10^8 · 100 · 10^4) units, in cents
                target = half_up(total, r8 * 10**6)
        if version.cap_per_deal is not None:
            c3 = int(version.cap_per_deal * 1000)
            cap = half_up(pd.Series(c3 * 10**7, index=r8.index, dtype=object), r8)
            target = target.where(target <= cap, cap)
        eligible["amount"] = target
        eligible = eligible[eligible["amount"] > 0]
        source = "spiff" if version.plan.kind == Plan.Kind.SPIFF else "deal"
        frames.append(
            pd.DataFrame(
                {
                    "key": source + ":" + eligible["id"] + f":{version.pk}:1",
                    "amount": eligible["amount"],
                    "amount_base": half_up(eligible["amount"] * eligible["r8"], 10**8),
                    "available_on": (eligible["close"] + holding).dt.strftime("%Y-%m-%d"),
                    "period_start": eligible["close"]
                    .dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[version.period])
                    .dt.start_time.dt.strftime("%Y-%m-%d"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def compare(expected: pd.DataFrame, written: pd.DataFrame) -> int:
    """Missing, extra and different (amount, base amount, dates) entries."""
    got = written.copy()
    got["amount"] = got["amount"].map(int).astype(object)
    got["amount_base"] = got["amount_base"].map(int).astype(object)
    both = expected.merge(got, on="key", how="outer", suffixes=("", "_got"), indicator=True)
    missing = int((both["_merge"] == "left_only").sum())
    extra = int((both["_merge"] == "right_only").sum())
    matched = both[both["_merge"] == "both"]
    different = int(
        (
            (matched["amount"] != matched["amount_got"])
            | (matched["amount_base"] != matched["amount_base_got"])
            | (matched["available_on"] != matched["available_on_got"])
            | (matched["period_start"] != matched["period_start_got"])
        ).sum()
    )
    return missing + extra + different
