"""Onboarding's pages: the public application (``apply/``, no login) and
the partner's onboarding pages (``onboarding/``: the plan, agreements)."""

from . import urls_agreements, urls_apply, urls_plans, urls_training

app_name = "onboarding"

urlpatterns = [
    *urls_apply.urlpatterns,
    *urls_plans.urlpatterns,
    *urls_agreements.urlpatterns,
    *urls_training.urlpatterns,
]
