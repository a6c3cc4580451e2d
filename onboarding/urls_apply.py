"""Onboarding pages: apply (see urls.py). Public: no login, on the
tenant's host; the links in applicant mails carry a token."""

from django.urls import URLPattern, path

from . import views_apply

urlpatterns: list[URLPattern] = [
    path("apply/", views_apply.apply, name="apply"),
    path("apply/confirm/<str:token>/", views_apply.confirm, name="apply_confirm"),
    path("apply/answer/<str:token>/", views_apply.answer, name="apply_answer"),
]
