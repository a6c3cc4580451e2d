from django.apps import AppConfig


class MdfConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mdf"
    verbose_name = "Market development funds"

    def ready(self) -> None:
        from dealreg.signals import outcome_changed

        from .receivers import deal_outcome_changed

        outcome_changed.connect(deal_outcome_changed, dispatch_uid="mdf.sync_coop")
        from dealreg.extensions import registration_form_fields

        from .sourcing import registration_form_fields as sourcing_field

        registration_form_fields.connect(sourcing_field, dispatch_uid="mdf.sourcing")
        from incentives.signals import payout_run_paid

        from .events import claims_paid

        payout_run_paid.connect(claims_paid, dispatch_uid="mdf.claims_paid")
