from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmark commands (``make bench-...``). Installed only by
    ``bench.settings``: the shipped product does not carry them."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "bench"
    verbose_name = "Benchmarks"
