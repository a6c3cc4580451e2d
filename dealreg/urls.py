"""The partner portal's deal registration pages, under /deals/. URLs carry
the registration's public code (DR-7KQ2M9XA), never its primary key."""

from django.urls import path

from . import views, views_ending

app_name = "dealreg"

urlpatterns = [
    path("", views.registration_list, name="list"),
    path("export.csv", views.registration_export, name="export"),
    path("new/", views.registration_new, name="new"),
    path("<str:code>/", views.registration_detail, name="detail"),
    path("<str:code>/edit/", views.registration_edit, name="edit"),
    path("<str:code>/submit/", views.registration_submit, name="submit"),
    path("<str:code>/answer/", views.registration_answer, name="answer"),
    path("<str:code>/messages/", views.registration_message, name="message"),
    path("<str:code>/withdraw/", views_ending.registration_withdraw, name="withdraw"),
    path("<str:code>/delete/", views_ending.registration_delete, name="delete"),
    path("<str:code>/extension/", views.registration_extension, name="extension"),
    path("<str:code>/outcome/", views.registration_outcome, name="outcome"),
]
