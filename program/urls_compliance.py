"""The partner portal's compliance review pages (``program/compliance/``)."""

from django.urls import URLPattern, path

from . import views_compliance as views

urlpatterns: list[URLPattern] = [
    path("program/compliance/", views.compliance_page, name="compliance"),
    path(
        "program/compliance/<uuid:review_id>/items/<uuid:item_id>/",
        views.answer,
        name="compliance_answer",
    ),
    path(
        "program/compliance/<uuid:review_id>/tax-document/",
        views.tax_document,
        name="compliance_tax",
    ),
    path("program/compliance/<uuid:review_id>/submit/", views.submit, name="compliance_submit"),
    path(
        "program/compliance/<uuid:review_id>/tax-document/file/",
        views.tax_file,
        name="compliance_tax_file",
    ),
    path(
        "program/compliance/answers/<uuid:answer_id>/file/",
        views.answer_file,
        name="compliance_answer_file",
    ),
]
