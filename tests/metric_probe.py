"""Reading a declared metric in the metric tests: by its key, from the
assembled declarations (so a metric a test reads is one the app declares)."""

from datetime import date

from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Metric, Period
from prm.tenancy.drill import link

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
APRIL = Period(date(2026, 4, 1), date(2026, 4, 30))


def metric(key: str) -> Metric:
    return registry.metrics()[key]


def compute(world, key, period=MARCH, filters=NO_FILTERS):
    """The metric's value from the apps' tables; the same value must come
    out of reporting's rollups, kept up to date by the changes themselves
    (the partners each change marked stale, refreshed), and rebuilt."""
    from reporting import figures, rollups

    with world.scope():
        raw = metric(key).compute(world.tenant, period, filters)
        if metric(key).rollup is None:
            return raw  # read from its own small table, not the rollups
        rollups.refresh_stale(world.tenant, limit=10_000)
        kept = figures.values(world.tenant, [metric(key)], [period], filters)[0][key]
        assert kept == raw, f"{key}: the rollups kept up to date say {kept}, the tables {raw}"
        rollups.rebuild(world.tenant)
        rebuilt = figures.values(world.tenant, [metric(key)], [period], filters)[0][key]
        assert rebuilt == raw, f"{key}: the rebuilt rollups say {rebuilt}, the tables {raw}"
    return raw


def drill(world, key, period=MARCH, filters=NO_FILTERS):
    """Where the metric's figure drills to (``prm.tenancy.drill.link``)."""
    with world.scope():
        return link(metric(key), world.tenant, period, filters)


def rows(world, key, period=MARCH, filters=NO_FILTERS) -> list:
    """The pks of the rows the metric counts."""
    with world.scope():
        return sorted(metric(key).rows(world.tenant, period, filters).values_list("pk", flat=True))


def listed(world, role, url) -> list:
    """The pks the admin list at ``url`` shows this member."""
    response = world.client(role).get(url)
    assert response.status_code == 200, url
    return sorted(row.pk for row in response.context["cl"].result_list)
