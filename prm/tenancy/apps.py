from django.apps import AppConfig


class TenancyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "prm.tenancy"
    label = "tenancy"
    verbose_name = "People and access"

    def ready(self) -> None:
        # Every app's declaration is read and checked once, at start-up; the
        # Celery beat schedule is what the apps declare.
        from prm.celery import app as celery_app

        from . import registry

        registry.check()
        celery_app.conf.beat_schedule = registry.beat_schedule()
