"""Reading a declared metric in the metric tests: by its key, from the
assembled declarations (so a metric a test reads is one the app declares)."""

from datetime import date

from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Metric, Period

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
APRIL = Period(date(2026, 4, 1), date(2026, 4, 30))


def metric(key: str) -> Metric:
    return registry.metrics()[key]


def compute(world, key, period=MARCH, filters=NO_FILTERS):
    with world.scope():
        return metric(key).compute(world.tenant, period, filters)


def drill(world, key, period=MARCH, filters=NO_FILTERS):
    with world.scope():
        return metric(key).drill(world.tenant, period, filters)
