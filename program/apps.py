from django.apps import AppConfig


class ProgramConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "program"
    verbose_name = "Partner program"

    def ready(self) -> None:
        from dealreg.signals import outcome_changed, registration_decided
        from onboarding.signals import training_confirmed

        from . import receivers

        # A win, an approval or a confirmed certification may lift a
        # partner into a higher tier at once (when the policy says so).
        outcome_changed.connect(receivers.registration_changed, dispatch_uid="program.outcome")
        registration_decided.connect(receivers.registration_changed, dispatch_uid="program.decided")
        training_confirmed.connect(receivers.training_confirmed, dispatch_uid="program.training")
