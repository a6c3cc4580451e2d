"""The MDF pages, under the prefix the app's declaration gives them
(``funds/``). URLs carry public codes (FC-7KQ2M9XA) and UUIDs, never
primary keys that count."""

from django.urls import path

from . import views, views_proof

app_name = "mdf"

urlpatterns = [
    path("requests/<str:code>/", views.request_detail, name="request"),
    path("claims/<str:code>/proofs/<uuid:proof_id>/", views_proof.proof_file, name="proof"),
]
