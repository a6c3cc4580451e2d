"""Reporting's demo data: the daily rollups of the demo's year and a year
of partner health history computed from it, so that the dashboards and the
partners' health pages open filled (the other apps' steps wrote the year
first: see ``demo_after`` in ``declare.py``).

Run again, the rollups are rebuilt (cheap: they are recomputed from the
apps' data) and the health history is left as it is (the nightly run adds
each day since). While the rollups or the health score are not built yet,
their part is skipped with a line in the log."""

import importlib
import logging
from collections.abc import Callable
from typing import Any

from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import HISTORY_DAYS

from .models import HealthScore

log = logging.getLogger(__name__)


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """``module.name``, or None (logged) if that module or function does not
    exist yet. An import error from inside the module is raised."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        found = None
    function = getattr(found, name, None)
    if function is None:
        log.warning("Demo data: %s.%s does not exist yet; skipped.", module, name)
    return function


def step(ctx: DemoContext) -> None:
    rebuild = _optional("reporting.rollups", "rebuild")
    if rebuild is not None:
        rebuild(ctx.tenant)
    backfill = _optional("reporting.health", "backfill_health")
    if backfill is not None and not HealthScore.objects.filter(tenant_id=ctx.tenant.pk).exists():
        backfill(ctx.tenant, days=HISTORY_DAYS)
