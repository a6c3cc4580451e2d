"""The portal's "API keys" pages, under the prefix the API's declaration
gives them (``api-keys/``). The API itself is served under /api/v1/
(``prm.api.urls``)."""

from django.urls import path

from . import portal_views

app_name = "api_keys"

urlpatterns = [
    path("", portal_views.key_list, name="list"),
    path("new/", portal_views.key_new, name="new"),
    path("created/", portal_views.key_created, name="created"),
    path("<uuid:key_id>/revoke/", portal_views.key_revoke, name="revoke"),
]
