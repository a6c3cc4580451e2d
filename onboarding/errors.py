from prm.tenancy.errors import ServiceError


class OnboardingError(ServiceError):
    """A refused onboarding operation; the message is for the person."""
