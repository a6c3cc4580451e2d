"""Settings for the benchmarks: the product's settings plus the ``bench`` app
that holds the benchmark commands. Only ``make bench-...`` uses them."""

from prm.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405
