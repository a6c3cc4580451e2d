"""Portal views (the portal helper's module replaces this interim one)."""

from django.http import Http404, HttpRequest, HttpResponse


def request_detail(request: HttpRequest, code: str) -> HttpResponse:
    raise Http404
