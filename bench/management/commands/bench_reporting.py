"""`make bench-reporting`: the reporting dashboards at scale (issue #16,
"Fast at scale").

Seeds (or keeps) one tenant with 5,000 partners, 1,000,000 registrations
and about 5,000,000 ledger entries (``bench.reporting_seed``; BENCH_PARTNERS,
BENCH_REGISTRATIONS, BENCH_ENTRIES or the options scale it down), then:

- ``rollup_refresh_s``: a full rebuild of the tenant's daily rollups
  (``reporting.rollups.rebuild``);
- the executive, channel manager and partner dashboards (``reporting:
  executive``, ``reporting:channel``, ``reporting:partner``) with the default
  period, each GET ``--requests`` times (30) after a warm-up through Django's
  test client, signed in as the seeded executive, channel manager and
  partner admin on the tenant's host: p95 server time, and the number of
  queries, which must be the same with another filter set;
- ``vs_sql``: the executive figures (sums of every fact over the period,
  the previous period and the sparkline buckets) computed by hand-written
  SQL over the rollup tables, timed the same way; the dashboard's p95 ÷
  the SQL's p95;
- ``mismatches``: every headline figure (``reporting.figures.headline``) of
  the executive and partner dashboards against its metric's own
  computation over the raw tables (``Metric.compute``), for the default
  filters and a region.

It prints a table and the line ``RESULT exec_dashboard_p95_ms=…
cm_dashboard_p95_ms=… partner_dashboard_p95_ms=… vs_sql=… rollup_refresh_s=…
mismatches=…``. Run it on its own database (PRM_DB_NAME=prm_bench_reporting
in the Makefile): the seed replaces everything in it. ``--seed-only`` stops
after the seed (and ``--check`` verifies it).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django_scopes import scopes_disabled

from bench.reporting_seed import Seeder, Size
from prm.tenancy.scoping import tenant_scope


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


class Command(BaseCommand):
    help = "Seed the reporting benchmark's data and print the dashboards' figures."

    def add_arguments(self, parser):
        parser.add_argument("--partners", type=int, default=env_int("BENCH_PARTNERS", 5000))
        parser.add_argument(
            "--registrations", type=int, default=env_int("BENCH_REGISTRATIONS", 1_000_000)
        )
        parser.add_argument("--entries", type=int, default=env_int("BENCH_ENTRIES", 5_000_000))
        parser.add_argument("--requests", type=int, default=30)
        parser.add_argument("--fresh", action="store_true", help="Seed again from scratch.")
        parser.add_argument("--seed-only", action="store_true", help="Stop after the seed.")
        parser.add_argument(
            "--check", action="store_true", help="Verify the seed (accruals, sums, business time)."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if not connection.settings_dict["NAME"].startswith("prm_bench"):
            raise CommandError(
                "Run the benchmark on its own database: PRM_DB_NAME=prm_bench_reporting."
            )
        size = Size(opts["partners"], opts["registrations"], opts["entries"])
        if size.partners < 40 or size.registrations < 1000:
            raise CommandError("Use at least 40 partners and 1,000 registrations.")
        with scopes_disabled():
            tenant, seed = Seeder(self.log).seed(size, fresh=opts["fresh"])
        self.report_seed(size, seed)
        if opts["check"]:
            from bench.reporting_check import check_seed

            with tenant_scope(tenant):
                problems = check_seed(tenant, self.log)
            if problems:
                raise CommandError(f"The seed is inconsistent: {problems}")
        if opts["seed_only"]:
            return
        from bench.reporting_measure import Measure, missing_parts

        missing = missing_parts()
        if missing:
            raise CommandError(
                "The reporting core is not in this tree yet (issue #16): "
                + "; ".join(missing)
                + ". Merge it and run `make bench-reporting` again (the seed is kept)."
            )
        results = Measure(tenant, self.log, requests=opts["requests"]).run()
        self.report(results)
        varying = [page for page in ("exec", "cm", "partner") if not results[page + "_constant"]]
        if varying:
            raise CommandError(
                f"The number of queries changes with the filters on: {', '.join(varying)}."
            )

    def log(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def report_seed(self, size: Size, seed: dict) -> None:
        w = 44
        rows = [
            "",
            f"Reporting benchmark data: {size.partners:,} partners, "
            f"{size.registrations:,} registrations, ~{size.entries:,} entries asked"
            + ("" if seed["seeded"] else " (kept from an earlier seed)"),
        ]
        for key in (
            "partners",
            "registrations",
            "registration_product_lines",
            "product_lines_per_deal",
            "registration_events",
            "conflicts",
            "non_base_currency_pct",
            "ledger_entries",
            "accruals",
            "adjustments",
            "clawbacks",
            "payouts",
            "disputes",
            "payout_runs",
            "settlements",
            "tenant_s",
            "registrations_s",
            "ledger_s",
            "vacuum_s",
            "seed_s",
        ):
            if key in seed:
                value = seed[key]
                text = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
                rows.append(f"{key:<{w}}{text:>16}")
        if "statuses" in seed:
            rows.append(
                "statuses: "
                + ", ".join(f"{k} {int(v):,}" for k, v in sorted(seed["statuses"].items()))
            )
        rows.append(f"{'seed time, all steps (s)':<{w}}{seed['seed_total_s']:>16,.1f}")
        rows.append(f"{'database size (GB)':<{w}}{seed['db_bytes'] / 2**30:>16,.2f}")
        self.stdout.write("\n".join(rows))

    def report(self, r: dict) -> None:
        w = 50
        rows = [
            "",
            f"{'measure':<{w}}{'value':>14}{'target':>14}",
            f"{'rollup full rebuild (s)':<{w}}{r['rollup_refresh_s']:>14.2f}",
        ]
        for page in ("exec", "cm", "partner"):
            target = "<= 300" if page == "exec" else ""
            rows.append(f"{page + ' dashboard p50 (ms)':<{w}}{r[page + '_p50_ms']:>14.2f}")
            rows.append(
                f"{page + ' dashboard p95 (ms)':<{w}}{r[page + '_p95_ms']:>14.2f}{target:>14}"
            )
            rows.append(
                f"{page + ' dashboard queries (two filter sets)':<{w}}"
                f"{r[page + '_queries']!s:>14}{'constant':>14}"
            )
        rows += [
            f"{'executive figures by hand-made SQL p95 (ms)':<{w}}{r['sql_p95_ms']:>14.2f}",
            f"{'dashboard p95 / SQL p95':<{w}}{r['vs_sql']:>14.2f}{'<= 1.2':>14}",
            f"{'figures compared with the raw tables':<{w}}{r['compared']:>14d}",
            f"{'mismatches':<{w}}{r['mismatches']:>14d}{'0':>14}",
        ]
        for line in r["mismatch_lines"][:20]:
            rows.append(f"  {line}")
        rows.append(
            f"RESULT exec_dashboard_p95_ms={r['exec_p95_ms']:.0f} "
            f"cm_dashboard_p95_ms={r['cm_p95_ms']:.0f} "
            f"partner_dashboard_p95_ms={r['partner_p95_ms']:.0f} vs_sql={r['vs_sql']:.2f} "
            f"rollup_refresh_s={r['rollup_refresh_s']:.1f} mismatches={r['mismatches']}"
        )
        self.stdout.write("\n".join(rows))
