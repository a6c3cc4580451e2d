from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self) -> None:
        from dealreg.signals import registration_decided, registration_submitted

        from .receivers import registration_changed

        registration_submitted.connect(registration_changed, dispatch_uid="onboarding.submitted")
        registration_decided.connect(registration_changed, dispatch_uid="onboarding.decided")
