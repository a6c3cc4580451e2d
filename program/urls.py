"""The partner program's portal pages (``program/``): tier progress,
compliance reviews."""

from django.urls import URLPattern, path

from . import views_progress
from .urls_compliance import urlpatterns as compliance_urls

app_name = "program"

urlpatterns: list[URLPattern] = [
    path("program/tiers/", views_progress.progress, name="progress"),
    *compliance_urls,
]
