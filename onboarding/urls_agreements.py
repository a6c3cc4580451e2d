"""Onboarding pages: agreements (see urls.py). URLs carry the version's
or the acceptance's UUID."""

from django.urls import path

from . import views_agreements as views

urlpatterns = [
    path("onboarding/agreements/", views.agreement_list, name="agreements"),
    path(
        "onboarding/agreements/receipts/<uuid:acceptance_id>.pdf",
        views.receipt,
        name="receipt",
    ),
    path(
        "onboarding/agreements/<uuid:version_id>/",
        views.agreement_detail,
        name="agreement",
    ),
    path(
        "onboarding/agreements/<uuid:version_id>/document.pdf",
        views.agreement_pdf,
        name="agreement_pdf",
    ),
]
