from django.apps import AppConfig


class DealregConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dealreg"
    verbose_name = "Deal registration"
