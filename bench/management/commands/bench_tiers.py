"""`make bench-tiers`: tier qualification at scale (issue #19, "Performance").

Seeds (or keeps) one tenant with 5,000 partners, 1,000,000 registrations
and 50,000 certification records (``bench.tiers_seed``; ``--rebuild`` seeds
again), puts every partner back in the tier it started in, then measures:

- ``evaluation_s``: ``program.evaluation.evaluate(tenant, trigger=ON_DEMAND)``
  wall time. The first run moves many partners (upgrades, grace periods
  opened); the second is the steady state that is reported. Both printed.
- ``evaluation_vs_sql``: that time ÷ the time of the same computation
  (every active partner's qualifying tier from the published criteria on
  the same day) as ONE hand-written SQL query (``bench.tiers_sql``; the
  median of three runs after a warm-up).
- ``progress_p95_ms``: the partner's tier progress page (``program:progress``)
  through Django's test client on the tenant's host, signed in as the
  partner admin of a different partner each time (``--requests``, 200,
  after 10 uncounted): p95 wall time.
- ``mismatches``: active partners whose standing after the evaluation
  (``TierStanding.qualifying_tier``) differs from the SQL's tier.

Last line: ``RESULT evaluation_s=… evaluation_vs_sql=… progress_p95_ms=…
mismatches=…``. Targets: ≤ 10 s, ≤ 1.5, ≤ 100 ms, 0.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from bench.tiers_seed import Seeder, Size
from bench.tiers_sql import mismatches, qualifying_tiers
from onboarding.agreements import held_partners
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import Role
from prm.tenancy.scoping import tenant_scope
from program.evaluation import Trigger, evaluate, evaluated

ZONE = ZoneInfo("America/New_York")  # the seeded tenant's
BACKEND = "prm.tenancy.auth.TenantAuthenticationBackend"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def reset(tenant: Tenant) -> None:
    """Every partner back in the tier it joined in, with no standing, no
    evaluation and none of their notifications or outbox messages: each run
    measures the same first and second evaluation."""
    with connection.cursor() as cursor:
        t = [tenant.pk]
        cursor.execute(
            "UPDATE partners_partner p SET tier_id = c.tier_id FROM partners_tierchange c "
            "WHERE c.partner_id = p.id AND c.reason = 'joined' AND p.tenant_id = %s "
            "AND p.tier_id <> c.tier_id",
            t,
        )
        for sql in (
            "DELETE FROM partners_tierchange WHERE tenant_id = %s AND reason <> 'joined'",
            "DELETE FROM program_tierstanding WHERE tenant_id = %s",
            "DELETE FROM program_evaluation WHERE tenant_id = %s",
            "DELETE FROM tenancy_notification WHERE tenant_id = %s",
            "DELETE FROM tenancy_outboxmessage WHERE tenant_id = %s",
            "DELETE FROM partners_historicalpartner WHERE tenant_id = %s "
            "AND history_change_reason = 'Tier evaluation'",
        ):
            cursor.execute(sql, t)
        for table in ("partners_partner", "partners_tierchange", "program_tierstanding"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")


class Command(BaseCommand):
    help = "Seed the tier benchmark's data and time a full tier evaluation."

    def add_arguments(self, parser):
        parser.add_argument("--partners", type=int, default=env_int("BENCH_PARTNERS", 5000))
        parser.add_argument(
            "--registrations", type=int, default=env_int("BENCH_REGISTRATIONS", 1_000_000)
        )
        parser.add_argument("--records", type=int, default=env_int("BENCH_RECORDS", 50_000))
        parser.add_argument("--requests", type=int, default=200)
        parser.add_argument("--rebuild", action="store_true", help="Seed again from scratch.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not connection.settings_dict["NAME"].startswith("prm_bench"):
            raise CommandError(
                "Run the benchmark on its own database: PRM_DB_NAME=prm_bench_tiers."
            )
        size = Size(opts["partners"], opts["registrations"], opts["records"])
        seeder = Seeder(self.log)
        with scopes_disabled():
            tenant = None if opts["rebuild"] else seeder.seeded(size)
            if tenant is None:
                started = time.perf_counter()
                tenant = seeder.seed(size, today=timezone.localdate(timezone=ZONE))
                self.log(f"Data generated in {time.perf_counter() - started:.1f}s")
            else:
                self.log("Data kept from an earlier seed (--rebuild seeds again).")
        with tenant_scope(tenant):
            self.measure(tenant, opts["requests"])

    def measure(self, tenant: Tenant, requests: int) -> None:
        reset(tenant)
        day = tenant.local_today()
        runs = []
        for k in range(2):
            started = time.perf_counter()
            run = evaluate(tenant, trigger=Trigger.ON_DEMAND)
            runs.append(time.perf_counter() - started)
            self.log(
                f"evaluation {k + 1}: {runs[-1]:.2f}s ({run.partners:,} partners, "
                f"{run.upgrades:,} up, {run.downgrades:,} down, {run.graces_opened:,} graces "
                f"opened, {run.graces_closed:,} closed, {run.pending_upgrades:,} pending)"
            )
        qualifying_tiers(tenant, day)  # warm-up
        sql_times = []
        for _ in range(3):
            started = time.perf_counter()
            by_sql = qualifying_tiers(tenant, day)
            sql_times.append(time.perf_counter() - started)
        sql_s = statistics.median(sql_times)
        each = ", ".join(f"{t:.2f}" for t in sql_times)
        self.log(f"one SQL query: {sql_s:.2f}s (median of {each})")
        wrong = mismatches(tenant, day)
        for pk, stored, computed in wrong[:10]:
            self.log(f"mismatch: partner {pk}: evaluation {stored}, SQL {computed}")
        self.spread(by_sql)
        p95 = self.progress(tenant, day, requests)
        evaluation_s = runs[1]
        ratio = evaluation_s / sql_s if sql_s else float("inf")
        self.log(
            "targets: evaluation ≤ 10 s, ≤ 1.5 times the SQL, progress p95 ≤ 100 ms, 0 mismatches"
        )
        self.stdout.write(
            f"RESULT evaluation_s={evaluation_s:.2f} evaluation_vs_sql={ratio:.2f} "
            f"progress_p95_ms={p95:.1f} mismatches={len(wrong)}"
        )

    def spread(self, by_sql: dict) -> None:
        from partners.models import Tier

        names = {t.pk: t.name for t in Tier.objects.all()}
        counts: dict[str, int] = {}
        for tier in by_sql.values():
            counts[names[tier]] = counts.get(names[tier], 0) + 1
        self.log("qualifying tiers: " + ", ".join(f"{n} {c:,}" for n, c in sorted(counts.items())))

    def progress(self, tenant: Tenant, day, requests: int) -> float:
        """p95 (ms) of the progress page over partner admins of different
        partners (active, not held back by an agreement: the portal gate
        would send those to the agreements page)."""
        admins = list(
            Membership.objects.filter(
                role=Role.PARTNER_ADMIN,
                is_active=True,
                partner__in=evaluated(tenant).exclude(pk__in=held_partners(day).values("pk")),
            )
            .select_related("user")
            .order_by("partner__name")[: requests + 10]
        )
        if len(admins) < requests + 10:
            raise CommandError("Not enough partner admins for the progress page requests.")
        url = reverse("program:progress")
        client = Client(HTTP_HOST=f"{tenant.slug}.localhost")
        times = []
        for k, member in enumerate(admins):
            client.force_login(member.user, backend=BACKEND)
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise CommandError(f"{url} as {member.user.email} answered {response.status_code}")
            if k >= 10:
                times.append(elapsed)
        self.log(
            f"progress page: {len(times)} requests, p50 {statistics.median(times):.1f} ms, "
            f"p95 {pct(times, 95):.1f} ms, max {max(times):.1f} ms"
        )
        return pct(times, 95)

    def log(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
