"""``/api/v1/``: every app's declared resources, the OpenAPI document and
its reference page."""

import json
from importlib import import_module

from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from prm.tenancy import registry

from .problems import PROBLEM_TYPE, problem
from .routes import Route

app_name = "api"


def _router() -> SimpleRouter:
    router = SimpleRouter()
    prefixes: dict[str, str] = {}
    for module_path in registry.api_modules():
        for route in import_module(module_path).ROUTES:
            assert isinstance(route, Route), f"{module_path}.ROUTES holds {route!r}"
            assert route.prefix not in prefixes, (
                f"API prefix {route.prefix!r} is declared by {prefixes[route.prefix]} "
                f"and {module_path}"
            )
            prefixes[route.prefix] = module_path
            router.register(route.prefix, route.viewset, basename=route.basename)
    return router


class Schema(SpectacularAPIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


class Reference(SpectacularSwaggerSplitView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    url_name = "api:schema"


def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other address under /api/v1/: a 404 problem, not the HTML page."""
    body = problem(404, "There is no such API address.", code="not_found", instance=request.path)
    return HttpResponse(json.dumps(body), status=404, content_type=PROBLEM_TYPE)


urlpatterns = [
    path("schema/", Schema.as_view(), name="schema"),
    path("docs/", Reference.as_view(), name="docs"),
    *_router().urls,
    re_path(r"^(?P<rest>.*)$", unknown, name="unknown"),
]
