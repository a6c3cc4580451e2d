"""The partner portal's incentives pages, under /incentives/. A statement is
chosen by ``?period=`` (its first day; the current one without); lines and
disputes are addressed by their opaque id and public code."""

from django.urls import path

from . import views

app_name = "incentives"

urlpatterns = [
    path("", views.statement_list, name="statements"),
    path("statement/", views.statement_detail, name="statement"),
    path("statement.csv", views.statement_csv, name="statement_csv"),
    path("statement.pdf", views.statement_pdf, name="statement_pdf"),
    path("lines/<uuid:entry_id>/dispute/", views.dispute_new, name="dispute_new"),
    path("disputes/", views.dispute_list, name="disputes"),
    path("disputes/<str:code>/", views.dispute_detail, name="dispute"),
    path("disputes/<str:code>/reply/", views.dispute_reply, name="dispute_reply"),
]
