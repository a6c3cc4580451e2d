from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incentives"
    verbose_name = "Incentives"

    def ready(self) -> None:
        from dealreg.signals import outcome_changed

        from .receivers import deal_outcome_changed

        outcome_changed.connect(deal_outcome_changed, dispatch_uid="incentives.sync_deal")
