"""Onboarding pages: training (see urls.py). The team's certifications and
the catalogue, reporting a course or certification, a record's certificate."""

from django.urls import URLPattern, path

from . import views_training

urlpatterns: list[URLPattern] = [
    path("onboarding/training/", views_training.training_page, name="training"),
    path("onboarding/training/report/", views_training.report, name="training_report"),
    path(
        "onboarding/training/records/<uuid:record_id>/certificate/",
        views_training.certificate,
        name="training_certificate",
    ),
]
