"""What a request answers when PostgreSQL or the Redis cache cannot be reached.

A lost database connection (the server down or restarting, the connection
killed) or an unreachable cache is an outage, not a bug: the person gets the
branded 503 page (``templates/503.html``) with ``Retry-After``, and the log
gets one warning line (``prm.outage``) instead of a 500 with a traceback.

Every write of a request runs in ``transaction.atomic()`` (the services), so
a request cut off by an outage has written all of its change or none of it;
the page says so.

Django turns an exception into a response at every middleware layer
(``convert_exception_to_response``), so no middleware sees an exception that
another middleware raised. Three entry points therefore lead here:

- ``OutageMiddleware.process_exception`` (prm.tenancy.middleware): raised by
  the view or while rendering its template, the usual case;
- ``server_error``, the ``handler500`` of both URL confs: raised by a
  middleware (the tenant lookup, loading the session or the user). Django
  calls it for any uncaught exception when ``DEBUG`` is off; with
  ``PRM_DEBUG=1`` such an outage shows Django's debug page instead;
- ``bad_request``, the ``handler400``: Django's session middleware turns a
  database error while saving the session into ``SessionInterrupted``
  (a 400), which is an outage all the same.

The page is rendered from a plain context, without the request's context
processors: they read the membership, the navigation and the unread
notifications, from the database that may be gone.
"""

import json
import logging
import sys
from typing import Any

import redis
from django.core.exceptions import BadRequest
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.cache import patch_cache_control

outage_log = logging.getLogger("prm.outage")

# What a request meets when PostgreSQL is gone (OperationalError: connection
# refused, timed out or terminated, server closed the connection) or when a
# connection Django still holds was closed under it (InterfaceError).
DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
# Among OperationalErrors, those with a SQLSTATE are outages only in these
# classes: 08 connection exception, 53 insufficient resources (too many
# connections, disk full), 57P01-57P03 the server shutting down, crashed or
# starting. A deadlock (40P01), serialization failure (40001), statement
# timeout (57014) or lock not available (55P03) is not an outage: it stays
# a 500 with its traceback. Connection failures carry no SQLSTATE.
OUTAGE_SQLSTATE_CLASSES = ("08", "53")
OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# What the Redis cache client raises when the server is down or does not
# answer within PRM_CACHE_SOCKET_TIMEOUT.
CACHE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

RETRY_AFTER_SECONDS = 60
# allauth counts sign-in attempts (and password resets, confirmation mails)
# in the cache; a cache error raised in here means the limiter is out.
RATE_LIMITER_MODULE = "allauth.core.internal.ratelimit"

HALF_SAVED = (
    "Nothing you submitted was half-saved: a change is saved whole or not at all. "
    "If you were saving something, check whether it went through before you send it again."
)
PAGES = {
    "database": (
        "Briefly unavailable",
        "The service is briefly unavailable: it cannot reach its database right now. "
        "Please try again in a minute.",
    ),
    "cache": (
        "Briefly unavailable",
        "The service is briefly unavailable: part of it cannot be reached right now. "
        "Please try again in a minute.",
    ),
    "rate limiter": (
        "Sign-in is paused",
        "Sign-in is paused: the sign-in attempt limiter cannot be reached right now, and "
        "nobody signs in without it counting their attempts. Please try again in a minute.",
    ),
}


def is_outage(error: BaseException) -> bool:
    if isinstance(error, (*CACHE_ERRORS, InterfaceError)):
        return True
    if not isinstance(error, OperationalError):
        return False
    # Django's OperationalError is raised from the driver's (psycopg's).
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    return (
        sqlstate is None
        or sqlstate.startswith(OUTAGE_SQLSTATE_CLASSES)
        or sqlstate in OUTAGE_SQLSTATES
    )


def outage_in(error: BaseException | None) -> BaseException | None:
    """The outage error that ``error`` is, or was raised from (``raise …
    from`` or while handling it), if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        if is_outage(error):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def raised_in(error: BaseException, module: str) -> bool:
    """Did ``error`` pass through a function of ``module`` on its way up?"""
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_globals.get("__name__") == module:
            return True
        frame = frame.tb_next
    return False


def component_of(error: BaseException) -> str:
    """``database``, ``cache`` or ``rate limiter`` (the cache, as the
    sign-in attempt limiter)."""
    if isinstance(error, DATABASE_ERRORS):
        return "database"
    return "rate limiter" if raised_in(error, RATE_LIMITER_MODULE) else "cache"


def _describe(error: BaseException) -> str:
    first_line = next(iter(str(error).splitlines()), "")
    return f"{error.__class__.__name__}: {first_line}"[:300]


def _tenant_branding(request: HttpRequest) -> dict[str, str] | None:
    """The tenant's name and support address for the page, if the tenant was
    found before the outage; read from the loaded row only (``__dict__``),
    so that nothing can query."""
    tenant = request.__dict__.get("tenant")
    if tenant is None:
        return None
    return {
        "name": tenant.__dict__.get("name", ""),
        "support_email": tenant.__dict__.get("support_email", ""),
    }


# Where the REST API lives (prm.api): its outages answer a problem document.
API_PREFIX = "/api/"


def unavailable(request: HttpRequest, error: BaseException) -> HttpResponse:
    """The 503 page for ``error`` (an outage), logged as one warning line."""
    component = component_of(error)
    outage_log.warning(
        "%s %s answered 503: the %s is unreachable (%s)",
        request.method,
        request.path,
        component,
        _describe(error),
        extra={"component": component, "error": _describe(error)},
    )
    title, message = PAGES[component]
    context: dict[str, Any] = {
        "title": title,
        "message": message,
        "half_saved": HALF_SAVED if component != "rate limiter" else "",
        "tenant": _tenant_branding(request),
        "retry_url": request.get_full_path() if request.method in ("GET", "HEAD") else "",
    }
    if request.path.startswith(API_PREFIX):
        # The API answers in its own format: a problem (RFC 9457), not a page.
        body = {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": message,
            "instance": request.path,
            "code": "service_unavailable",
        }
        response = HttpResponse(
            json.dumps(body), status=503, content_type="application/problem+json"
        )
    else:
        response = HttpResponse(loader.render_to_string("503.html", context), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    patch_cache_control(response, no_store=True)
    # Logged above, as a warning: Django logs any other 5xx response as an
    # ERROR (a mail to ADMINS); this is its own mark for "already logged"
    # (django.utils.log.log_response).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def plain_page(
    request: HttpRequest, template_name: str, status: int, **context: Any
) -> HttpResponse:
    """An error page rendered from a plain context (the tenant's name and
    support address, the request id), without the context processors: the
    request that failed may have left the database or the session unusable."""
    context = {
        "tenant": _tenant_branding(request),
        "request_id": request.__dict__.get("request_id", ""),
        **context,
    }
    response = HttpResponse(loader.render_to_string(template_name, context), status=status)
    patch_cache_control(response, no_store=True)
    return response


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """``handler500``: the 503 page when the uncaught exception is an outage
    (Django calls the handler while handling it), the branded 500 page
    otherwise (logged by Django with its traceback; none on the page)."""
    if (error := outage_in(sys.exc_info()[1])) is not None:
        return unavailable(request, error)
    retry_url = request.get_full_path() if request.method in ("GET", "HEAD") else ""
    return plain_page(request, template_name, 500, retry_url=retry_url)


def bad_request(
    request: HttpRequest, exception: Exception, template_name: str = "400.html"
) -> HttpResponse:
    """``handler400``: the 503 page when the bad request is an outage in
    disguise (the session could not be saved), the branded 400 page
    otherwise."""
    if (error := outage_in(exception)) is not None:
        return unavailable(request, error)
    # A view's own ``BadRequest`` says what was wrong, for the person
    # (prm.tenancy.params); a ``SuspiciousOperation`` says it for the log only.
    message = str(exception) if type(exception) is BadRequest else ""
    return plain_page(request, template_name, 400, message=message)
