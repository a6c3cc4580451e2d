from django.apps import AppConfig


class MdfConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mdf"
    verbose_name = "Market development funds"
