"""The partner portal's "Funds" pages, under the prefix the app's
declaration gives them (``funds/``). URLs carry public codes
(FR-7KQ2M9XA, FC-7KQ2M9XA) and UUIDs, never primary keys that count."""

from django.urls import path

from . import views, views_claims, views_leads, views_proof, views_requests

app_name = "mdf"

urlpatterns = [
    path("", views.funds, name="funds"),
    path("requests/", views.request_list, name="requests"),
    path("requests/new/", views_requests.request_new, name="request_new"),
    path("requests/<str:code>/", views_requests.request_detail, name="request"),
    path("requests/<str:code>/edit/", views_requests.request_edit, name="request_edit"),
    path("requests/<str:code>/submit/", views_requests.request_submit, name="request_submit"),
    path("requests/<str:code>/messages/", views_requests.request_message, name="request_message"),
    path("requests/<str:code>/answer/", views_requests.request_answer, name="request_answer"),
    path("requests/<str:code>/cancel/", views_requests.request_cancel, name="request_cancel"),
    path(
        "requests/<str:code>/extension/",
        views_requests.request_extension,
        name="request_extension",
    ),
    path("requests/<str:code>/leads/", views_leads.request_leads, name="request_leads"),
    path("requests/<str:code>/claim/", views_claims.claim_new, name="claim_new"),
    path("claims/<str:code>/", views_claims.claim_detail, name="claim"),
    path("claims/<str:code>/edit/", views_claims.claim_edit, name="claim_edit"),
    path("claims/<str:code>/submit/", views_claims.claim_submit, name="claim_submit"),
    path("claims/<str:code>/answer/", views_claims.claim_answer, name="claim_answer"),
    path("claims/<str:code>/messages/", views_claims.claim_message, name="claim_message"),
    path("claims/<str:code>/withdraw/", views_claims.claim_withdraw, name="claim_withdraw"),
    path("claims/<str:code>/proofs/<uuid:proof_id>/", views_proof.proof_file, name="proof"),
]
