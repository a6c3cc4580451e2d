"""Onboarding pages: plans (see urls.py). The partner's plan, its steps'
actions and documents, and the company profile its profile step asks for."""

from django.urls import URLPattern, path

from . import views_plans

urlpatterns: list[URLPattern] = [
    path("onboarding/", views_plans.plan_page, name="plan"),
    path("onboarding/profile/", views_plans.profile, name="profile"),
    path("onboarding/steps/<uuid:step_id>/tick/", views_plans.step_tick, name="step_tick"),
    path("onboarding/steps/<uuid:step_id>/upload/", views_plans.step_upload, name="step_upload"),
    path(
        "onboarding/steps/<uuid:step_id>/document/",
        views_plans.step_document,
        name="step_document",
    ),
]
