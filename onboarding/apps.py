from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self) -> None:
        from dealreg.signals import registration_decided, registration_submitted

        from . import applications, vetting
        from .receivers import registration_changed

        # A confirmed application is routed to its reviewer with a deadline;
        # the applicant's answer moves the deadline on by the time waited.
        if vetting.on_queued not in applications.ON_QUEUED:
            applications.ON_QUEUED.append(vetting.on_queued)
        if vetting.on_answered not in applications.ON_ANSWERED:
            applications.ON_ANSWERED.append(vetting.on_answered)

        registration_submitted.connect(registration_changed, dispatch_uid="onboarding.submitted")
        registration_decided.connect(registration_changed, dispatch_uid="onboarding.decided")
