"""URLs of the platform host (the base domain): the platform admin for
superusers, and the login it needs."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

# An uncaught PostgreSQL or Redis outage answers the 503 page (prm.tenancy.outage).
handler500 = "prm.tenancy.outage.server_error"
handler400 = "prm.tenancy.outage.bad_request"
# allauth's "too many attempts" page, with when to try again (prm.tenancy.ratelimits).
handler429 = "prm.tenancy.ratelimits.handler429"
