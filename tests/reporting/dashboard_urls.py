"""The portal's URLs, with the dashboards' URL names (``reporting:executive``,
``reporting:channel``, ``reporting:partner``) standing in for the real pages
while ``reporting.urls`` is not installed: the digests link to them. Once the
dashboards land, this is the portal's own URL module and nothing more."""

from importlib.util import find_spec

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from prm.urls import handler400, handler429, handler500
from prm.urls import urlpatterns as portal

__all__ = ["handler400", "handler429", "handler500", "urlpatterns"]


def stand_in(request: HttpRequest) -> HttpResponse:
    return HttpResponse("A dashboard")


if find_spec("reporting.urls") is None:
    dashboards = [
        path("", stand_in, name="executive"),
        path("channel/", stand_in, name="channel"),
        path("partner/", stand_in, name="partner"),
    ]
    urlpatterns = [path("reports/", include((dashboards, "reporting"))), *portal]
else:
    urlpatterns = portal
