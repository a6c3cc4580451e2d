"""What a bulk accrual run (``bulk``) reads: the won deals (in batches, as
tuples), the versions that may pay on them (per partner, by the tier it held
on the close date), exchange rates, the partners' running totals of
order-dependent rules, and fresh ids."""

import bisect
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
from django.db import connection

from dealreg.models import DealRegistration
from partners.models import Partner
from partners.tiers import timelines
from prm.tenancy.models import Tenant

from . import ledger
from .bulk_copy import escaped
from .models import ExchangeRate, LedgerEntry, Plan
from .money import ZERO
from .rules import Rule

Kind = LedgerEntry.Kind
Source = LedgerEntry.Source
ONE = Decimal(1)

# Won deals with the wanted product lines they name, the versions that
# already have entries on them, whether their accrual state needs writing
# and whether it exists.
DEALS_SQL = """
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
ID_ORDER = "r.id"
SYNC_ORDER = "r.won_close_date, r.created_at, r.id"

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
class Version:
    """A published version, flattened for the loop."""

    id: str
    source: str
    rule: Rule
    effective_from: date
    effective_to: date | None
    period: str
    products: frozenset[str]
    tiers: frozenset[uuid.UUID]
    regions: frozenset[uuid.UUID]
    partner_types: frozenset[str]
    order_dependent: bool
    prefix: str  # of the description
    prefix_text: str  # the same, escaped for COPY

    def eligible_partner(
        self, tier_id: uuid.UUID | None, partner_type: str, region_id: uuid.UUID | None
    ) -> bool:
        """``ledger.partner_eligible``, on ids."""
        return (
            (not self.tiers or tier_id in self.tiers)
            and (not self.partner_types or partner_type in self.partner_types)
            and (not self.regions or region_id in self.regions)
        )


def load_versions(tenant: Tenant) -> list[Version]:
    result = []
    for v in ledger._versions(tenant, [Plan.Kind.COMMISSION, Plan.Kind.SPIFF]):
        rule = Rule.of(v)
        tiers, regions, products = ledger.eligibility(v)
        prefix = f"Accrual: {v.plan.name} v{v.number} on "
        result.append(
            Version(
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
                prefix_text=escaped(prefix),
            )
        )
    return result


class Candidates:
    """Each partner's candidate versions (order-independent, order-dependent)
    by the tier it held: one pair for a partner whose tier did not change
    over its history (``independent``/``dependent``), a pair per stretch of
    its history for one that did (``dated``, looked up by ``on``). Partner
    type and region are today's, as in ``ledger.partner_eligible``."""

    def __init__(self, tenant: Tenant, versions: list[Version]):
        self.independent: dict[str, list[Version]] = {}
        self.dependent: dict[str, list[Version]] = {}
        # pk -> (first days of the stretches, [(independent, dependent)])
        self.dated: dict[str, tuple[list[date], list[tuple[list[Version], list[Version]]]]] = {}
        rows = list(
            Partner.objects.filter(tenant=tenant)
            .order_by("pk")
            .values_list("id", "tier_id", "partner_type", "region_id")
        )
        self.partners = [str(pk) for pk, *_ in rows]
        lines = timelines((pk, tier_id) for pk, tier_id, _, _ in rows)
        for pk, _, kind, region_id in rows:
            line = lines[pk]
            split: dict = {}  # tier id -> (independent, dependent)
            for tier_id in {line.current, *line.tiers}:
                eligible = [v for v in versions if v.eligible_partner(tier_id, kind, region_id)]
                split[tier_id] = (
                    [v for v in eligible if not v.order_dependent],
                    [v for v in eligible if v.order_dependent],
                )
            days: list[date] = []
            stretches: list[tuple[list[Version], list[Version]]] = []
            for day, tier_id in zip(line.days, line.tiers, strict=True):
                if not stretches or split[tier_id] != stretches[-1]:
                    days.append(day)
                    stretches.append(split[tier_id])
            key = str(pk)
            if len(stretches) > 1:
                self.dated[key] = (days, stretches)
            else:
                # No history (its tier today on every day), or one stretch.
                pair = stretches[0] if stretches else split[line.current]
                self.independent[key], self.dependent[key] = pair

    def on(self, pk: str, day: date) -> tuple[list[Version], list[Version]]:
        """The candidates of a partner of ``dated`` for a deal closed on ``day``
        (before its first row: the tier it joined at, as ``Timeline.on``)."""
        days, stretches = self.dated[pk]
        return stretches[max(bisect.bisect_right(days, day) - 1, 0)]


class Rates:
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


class Totals:
    """Running (attainment, accrued) per (version, partner, period) for the
    order-dependent versions, seeded from the ledger; a key whose existing
    deals lack a rate holds the ``NoRate`` that ``_period_totals`` raises."""

    def __init__(self, tenant: Tenant, versions: list[Version], rates: Rates):
        self.values: dict = {}
        ids = [v.id for v in versions if v.order_dependent]
        if not ids:
            return
        params: dict[str, uuid.UUID | str | list[str]] = {
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

    def get(self, key: tuple[str, str, date]) -> tuple[Decimal, Decimal]:
        found = self.values.get(key)
        if found is None:
            return ZERO, ZERO
        if isinstance(found, ledger.NoRate):
            raise found
        return found


class Ids:
    """Time-ordered UUIDs (version 7, as ``prm.tenancy.models.uuid7``) made
    a batch at a time, increasing in the order they are handed out: a 12-bit
    counter under the millisecond (RFC 9562's fixed-length counter method)."""

    def __init__(self) -> None:
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
