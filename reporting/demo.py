"""Reporting's demo data: the daily rollups of the demo's year and a year
of partner health history computed from it, so that the dashboards and the
partners' health pages open filled (the other apps' steps wrote the year
first: see ``demo_after`` in ``declare.py``).

Run again, the rollups are rebuilt (cheap: they are recomputed from the
apps' data) and the health history is left as it is (the nightly run adds
each day since)."""

from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import HISTORY_DAYS

from . import rollups
from .health import backfill_health
from .models import HealthScore

# A score a week over the year (and yesterday's): the trend the health page
# and the at-risk rules read, at a seventh of a daily backfill's time.
EVERY = 7


def step(ctx: DemoContext) -> None:
    rollups.rebuild(ctx.tenant)
    if not HealthScore.objects.filter(tenant_id=ctx.tenant.pk).exists():
        backfill_health(ctx.tenant, days=HISTORY_DAYS, every=EVERY)
