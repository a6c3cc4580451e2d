"""Keeping the rollups (``reporting.models.rollups``) equal to the apps' data.

- ``rebuild(tenant)`` recomputes a tenant's rollups from the apps' tables.
- ``mark_stale`` is called (by ``reporting.receivers``) in the transaction
  that saves a row an app's ``FactSource.watch`` names: the partners it
  changes are written to ``StalePartner`` with it, so the change is
  remembered exactly when it commits, whatever happens to the broker, and
  ``refresh_stale`` (kicked after commit, and on beat) recomputes them.
- ``reconcile(tenant)`` recomputes the recent days of every partner, compares
  them with the rollups, corrects and records any drift (``RollupCheck``):
  what a bulk update that sends no signal, or a bug, would leave behind.

A partner is recomputed whole (all its days): a registration's or an
entry's days can move (a close date corrected), and one partner's figures
are a few thousand rows at most. The program-wide ``SegmentDay`` rows of the
days and dimensions the partner had before and has now are then summed
again from ``PartnerDay``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope

from partners.models import Partner
from prm.tenancy import registry
from prm.tenancy.models import Tenant

from .models import (
    MeasurementDay,
    PartnerDay,
    RollupCheck,
    SegmentDay,
    SegmentTotal,
    StalePartner,
)
from .models.rollups import Facts

log = logging.getLogger(__name__)

FACTS: tuple[str, ...] = tuple(f.name for f in Facts._meta.get_fields())
DIMENSIONS = ("region_id", "tier_id", "partner_type", "channel_manager_id")
VENDOR_DIMS: tuple[Any, Any, str, Any] = (None, None, "", None)
Key = tuple[Any, date, tuple[Any, Any, str, Any]]  # partner, day, dimensions
CHUNK = 400  # partners computed together in a rebuild
RECENT = 35  # days a reconciliation recomputes


def _dims_now(tenant: Tenant, partner_ids: Sequence[Any] | None) -> dict[Any, tuple[Any, ...]]:
    partners = Partner.objects.filter(tenant_id=tenant.pk)
    if partner_ids is not None:
        partners = partners.filter(pk__in=[p for p in partner_ids if p])
    return {
        row[0]: (row[1], row[2], row[3], row[4])
        for row in partners.values_list(
            "pk", "region_id", "tier_id", "partner_type", "channel_manager_id"
        )
    }


def compute(
    tenant: Tenant, partner_ids: Sequence[Any] | None, since: date | None = None
) -> tuple[dict[Key, dict[str, Any]], list[tuple[str, Any, date, int, tuple[Any, ...]]]]:
    """The rollup rows of these partners (None: all, and the vendor's own),
    from ``since`` on, computed from the apps' declared fact sources."""
    dims = _dims_now(tenant, partner_ids)
    rows: dict[Key, dict[str, Any]] = defaultdict(dict)
    measurements = []
    for source in registry.fact_sources():
        if source.compute is not None:
            for fact in source.compute(tenant, partner_ids, since):
                if fact.partner is None:
                    where = VENDOR_DIMS
                elif fact.dims is not None:
                    where = fact.dims  # as the partner stood then, deleted or not
                elif fact.partner in dims:
                    where = dims[fact.partner]
                else:
                    continue  # a deleted partner's: it counts only where history says
                values = rows[(fact.partner, fact.day, where)]
                for name, value in fact.values.items():
                    values[name] = values.get(name, 0) + value
        if source.measure is not None:
            for series, item in source.measure(tenant, partner_ids, since):
                if item.partner in dims:
                    measurements.append(
                        (series, item.partner, item.day, item.value, dims[item.partner])
                    )
    return {key: values for key, values in rows.items() if any(values.values())}, measurements


# --- Writing ------------------------------------------------------------------------------


def _copy(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY rows into a table: a rebuild writes millions of rows."""
    count = 0
    with connection.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def _write(
    tenant: Tenant,
    rows: dict[Key, dict[str, Any]],
    measurements: list[tuple[str, Any, date, int, tuple[Any, ...]]],
) -> None:
    def partner_rows() -> Iterator[list[Any]]:
        for (partner, day, where), values in rows.items():
            yield [tenant.pk, partner, day, *where, *(values.get(f, 0) for f in FACTS)]

    _copy(
        PartnerDay._meta.db_table,
        ["tenant_id", "partner_id", "day", *DIMENSIONS, *FACTS],
        partner_rows(),
    )
    _copy(
        MeasurementDay._meta.db_table,
        ["tenant_id", "series", "partner_id", "day", "value", *DIMENSIONS],
        ([tenant.pk, s, p, d, v, *w] for s, p, d, v, w in measurements),
    )


SEGMENT_SUMS = ", ".join(f"SUM({f})" for f in FACTS)
SEGMENT_INSERT = f"""
    INSERT INTO {SegmentDay._meta.db_table}
        (tenant_id, day, partners, {", ".join(DIMENSIONS)}, {", ".join(FACTS)})
    SELECT p.tenant_id, p.day, p.partner_id IS NOT NULL, {", ".join(f"p.{d}" for d in DIMENSIONS)},
        {SEGMENT_SUMS}
    FROM {PartnerDay._meta.db_table} p
"""  # noqa: S608 (the names are the code's, not input)
SEGMENT_GROUP = "GROUP BY p.tenant_id, p.day, p.partner_id IS NOT NULL, " + ", ".join(
    f"p.{d}" for d in DIMENSIONS
)
AFFECTED = """
    WITH affected AS (
        SELECT DISTINCT * FROM unnest(%s::date[], %s::bool[], %s::uuid[], %s::uuid[],
            %s::text[], %s::uuid[]) AS a(day, partners, region_id, tier_id, partner_type,
            channel_manager_id)
    )
"""
MATCH = " AND ".join(
    ["{t}.day = a.day", "({t}.partners) = a.partners"]
    + [f"{{t}}.{d} IS NOT DISTINCT FROM a.{d}" for d in DIMENSIONS]
)
SEGMENT_DELETE = f"""{AFFECTED}
    DELETE FROM {SegmentDay._meta.db_table} s USING affected a
    WHERE s.tenant_id = %s AND {MATCH.format(t="s")}
"""  # noqa: S608 (the names are the code's, not input)


TOTAL_INSERT = f"""
    INSERT INTO {SegmentTotal._meta.db_table}
        (tenant_id, partners, {", ".join(DIMENSIONS)}, {", ".join(FACTS)})
    SELECT s.tenant_id, s.partners, {", ".join(f"s.{d}" for d in DIMENSIONS)}, {SEGMENT_SUMS}
    FROM {SegmentDay._meta.db_table} s
"""  # noqa: S608 (the names are the code's, not input)
TOTAL_GROUP = "GROUP BY s.tenant_id, s.partners, " + ", ".join(f"s.{d}" for d in DIMENSIONS)
TOTALS_AFFECTED = """
    WITH affected AS (
        SELECT DISTINCT * FROM unnest(%s::bool[], %s::uuid[], %s::uuid[], %s::text[],
            %s::uuid[]) AS a(partners, region_id, tier_id, partner_type, channel_manager_id)
    )
"""
TOTAL_MATCH = " AND ".join(
    ["{t}.partners = a.partners"] + [f"{{t}}.{d} IS NOT DISTINCT FROM a.{d}" for d in DIMENSIONS]
)
TOTAL_DELETE = f"""{TOTALS_AFFECTED}
    DELETE FROM {SegmentTotal._meta.db_table} t USING affected a
    WHERE t.tenant_id = %s AND {TOTAL_MATCH.format(t="t")}
"""  # noqa: S608 (the names are the code's, not input)


def _segments_of(keys: Iterable[tuple[Any, date, tuple[Any, ...]]]) -> list[list[Any]]:
    found = {(day, partner is not None, *where) for partner, day, where in keys}
    return [list(column) for column in zip(*found, strict=True)] if found else []


def _resum_segments(tenant: Tenant, segments: list[list[Any]]) -> None:
    """Sum the program-wide rows of these (day, partners?, dimensions) again."""
    if not segments:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            SEGMENT_DELETE,
            [*segments, tenant.pk],
        )
        cursor.execute(
            AFFECTED
            + SEGMENT_INSERT
            + " JOIN affected a ON "
            + MATCH.format(t="p").replace("(p.partners)", "(p.partner_id IS NOT NULL)")
            + " WHERE p.tenant_id = %s "
            + SEGMENT_GROUP,
            [*segments, tenant.pk],
        )
        totals = segments[1:]  # the segments without their days
        cursor.execute(TOTAL_DELETE, [*totals, tenant.pk])
        cursor.execute(
            TOTALS_AFFECTED
            + TOTAL_INSERT
            + " JOIN affected a ON "
            + TOTAL_MATCH.format(t="s")
            + " WHERE s.tenant_id = %s "
            + TOTAL_GROUP,
            [*totals, tenant.pk],
        )


def _existing_keys(tenant: Tenant, partner_ids: Sequence[Any]) -> list[Key]:
    rows = PartnerDay.objects.filter(tenant_id=tenant.pk).filter(_partners_q(partner_ids))
    return [
        (p, d, (r, t, pt, c))
        for p, d, r, t, pt, c in rows.values_list("partner_id", "day", *DIMENSIONS).distinct()
    ]


def _partners_q(partner_ids: Sequence[Any]) -> Any:
    from django.db.models import Q

    q = Q(partner_id__in=[p for p in partner_ids if p])
    if None in partner_ids:
        q |= Q(partner_id__isnull=True)
    return q


def refresh_partners(tenant: Tenant, partner_ids: Sequence[Any]) -> int:
    """Recompute these partners' rollups (None among them: the vendor's own
    rows) and the program-wide rows they touch. Returns the rows written."""
    partner_ids = list(dict.fromkeys(partner_ids))
    with transaction.atomic():
        before = _existing_keys(tenant, partner_ids)
        rows, measurements = compute(tenant, partner_ids)
        PartnerDay.objects.filter(tenant_id=tenant.pk).filter(_partners_q(partner_ids)).delete()
        MeasurementDay.objects.filter(
            tenant_id=tenant.pk, partner_id__in=[p for p in partner_ids if p]
        ).delete()
        _write(tenant, rows, measurements)
        _resum_segments(tenant, _segments_of([*before, *rows]))
    return len(rows)


def rebuild(tenant: Tenant) -> dict[str, int]:
    """Recompute all of a tenant's rollups from the apps' tables."""
    started = time.monotonic()
    with scope(tenant=tenant), transaction.atomic():
        for model in (PartnerDay, MeasurementDay, SegmentDay, SegmentTotal, StalePartner):
            model.objects.filter(tenant_id=tenant.pk).delete()
        # Deleted partners too: the directory's history still counts them.
        ids = sorted(
            set(Partner.objects.filter(tenant_id=tenant.pk).values_list("pk", flat=True))
            | set(
                Partner.history.model.objects.filter(tenant_id=tenant.pk)
                .values_list("id", flat=True)
                .distinct()
            ),
            key=str,
        )
        written = measured = 0
        for first in range(0, len(ids), CHUNK):
            rows, measurements = compute(tenant, ids[first : first + CHUNK])
            _write(tenant, rows, measurements)
            written += len(rows)
            measured += len(measurements)
        rows, measurements = compute(tenant, [None])
        _write(tenant, rows, measurements)
        written += len(rows)
        with connection.cursor() as cursor:
            cursor.execute(SEGMENT_INSERT + " WHERE p.tenant_id = %s " + SEGMENT_GROUP, [tenant.pk])
            segments = cursor.rowcount
            cursor.execute(TOTAL_INSERT + " WHERE s.tenant_id = %s " + TOTAL_GROUP, [tenant.pk])
    log.info(
        "Rebuilt the rollups of %s: %s partner-day rows, %s segment rows, %s measurements, %.1f s",
        tenant.slug,
        written,
        segments,
        measured,
        time.monotonic() - started,
    )
    return {"partner_days": written, "segment_days": segments, "measurements": measured}


# --- Stale partners -----------------------------------------------------------------------

EVERYTHING = "*"
STALE_INSERT = f"""
    INSERT INTO {StalePartner._meta.db_table} (tenant_id, partner_id, everything, since)
    VALUES (%s, %s, %s, now()) ON CONFLICT DO NOTHING
"""  # noqa: S608 (the name is the code's, not input)


def mark_stale(tenant_id: Any, partner_ids: Iterable[Any]) -> None:
    """Remember, in the current transaction, that these partners' rollups
    must be recomputed ("*": all of the tenant's), and kick the refresh
    after commit."""
    wanted = set(partner_ids)
    if not wanted:
        return
    everything = EVERYTHING in wanted
    values = [(tenant_id, None, True)] if everything else [(tenant_id, p, False) for p in wanted]
    with connection.cursor() as cursor:
        cursor.executemany(
            STALE_INSERT,
            values,
        )
    from prm.broker import kick_on_commit

    kick_on_commit("reporting.tasks.refresh_stale", tenant_id=str(tenant_id))


def refresh_stale(tenant: Tenant, limit: int = 200) -> int:
    """Recompute the partners marked stale (at most ``limit``; the rest on
    the next run). Two workers never take the same partners."""
    with scope(tenant=tenant), transaction.atomic():
        stale = list(
            StalePartner.objects.filter(tenant_id=tenant.pk)
            .select_for_update(skip_locked=True)
            .order_by("since")[:limit]
        )
        if not stale:
            return 0
        if any(row.everything for row in stale):
            rebuild(tenant)
            return len(stale)
        refresh_partners(tenant, [row.partner_id for row in stale])
        StalePartner.objects.filter(pk__in=[row.pk for row in stale]).delete()
    return len(stale)


# --- Reconciliation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    partner: Any
    day: date
    fact: str
    stored: Any
    computed: Any

    def as_json(self) -> dict[str, str]:
        return {
            "partner": str(self.partner or "vendor"),
            "day": self.day.isoformat(),
            "fact": self.fact,
            "stored": str(self.stored),
            "computed": str(self.computed),
        }


def _stored(tenant: Tenant, since: date) -> dict[Key, dict[str, Any]]:
    found: dict[Key, dict[str, Any]] = {}
    rows = PartnerDay.objects.filter(tenant_id=tenant.pk, day__gte=since)
    for row in rows.values("partner_id", "day", *DIMENSIONS, *FACTS):
        key = (row["partner_id"], row["day"], tuple(row[d] for d in DIMENSIONS))
        found[key] = {f: row[f] for f in FACTS if row[f]}
    return found


def _measured(tenant: Tenant, since: date) -> dict[tuple[Any, str], list[int]]:
    found: dict[tuple[Any, str], list[int]] = defaultdict(list)
    rows = MeasurementDay.objects.filter(tenant_id=tenant.pk, day__gte=since)
    for partner, series, value in rows.values_list("partner_id", "series", "value"):
        found[(partner, series)].append(value)
    return found


def reconcile(tenant: Tenant, days: int = RECENT, *, today: date | None = None) -> list[Drift]:
    """Recompute the last ``days`` days of every partner from the apps'
    tables, compare with the rollups, correct the partners that drifted and
    record the check. Returns the differences found."""
    started = time.monotonic()
    with scope(tenant=tenant):
        today = today or timezone.localdate(timezone=tenant.tzinfo)
        since = today - timedelta(days=days)
        computed, measurements = compute(tenant, None, since)
        stored = _stored(tenant, since)
        drift = []
        for key in computed.keys() | stored.keys():
            now = {f: Decimal(v) for f, v in computed.get(key, {}).items() if v}
            was = {f: Decimal(v) for f, v in stored.get(key, {}).items() if v}
            for fact in now.keys() | was.keys():
                if now.get(fact, 0) != was.get(fact, 0):
                    drift.append(Drift(key[0], key[1], fact, was.get(fact, 0), now.get(fact, 0)))
        fresh: dict[tuple[Any, str], list[int]] = defaultdict(list)
        for series, partner, day, value, _ in measurements:
            if day >= since:
                fresh[(partner, series)].append(value)
        old = _measured(tenant, since)
        for partner, series in fresh.keys() | old.keys():
            if sorted(fresh.get((partner, series), [])) != sorted(old.get((partner, series), [])):
                drift.append(Drift(partner, since, series, "measurements", "differ"))
        drifted = sorted({d.partner for d in drift}, key=str)
        if drifted:
            log.warning(
                "Rollups of %s drifted for %s partners since %s: corrected",
                tenant.slug,
                len(drifted),
                since,
            )
            refresh_partners(tenant, drifted)
        RollupCheck.objects.create(
            tenant=tenant,
            first_day=since,
            partners_checked=len({key[0] for key in computed.keys() | stored.keys()}),
            partners_drifted=len(drifted),
            drift=[d.as_json() for d in drift[:200]],
            seconds=Decimal(str(round(time.monotonic() - started, 3))),
        )
    return drift
