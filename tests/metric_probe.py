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
    with world.scope():
        return metric(key).compute(world.tenant, period, filters)


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
