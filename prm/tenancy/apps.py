from django.apps import AppConfig


class TenancyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "prm.tenancy"
    label = "tenancy"
    verbose_name = "People and access"
