import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template import loader
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django_scopes import scopes_disabled

from prm import log

from . import outage
from .hosts import is_platform_host, normalize_host, tenant_for_host
from .models import Membership
from .requests import TenantRequest

if TYPE_CHECKING:
    from .declarations import Gate, PortalGate
from .scoping import tenant_scope

request_log = logging.getLogger("prm.request")


class LoggedRequest(HttpRequest):
    """A request as ``RequestLogMiddleware`` leaves it. Types only."""

    request_id: str


class HealthCheckMiddleware:
    """``/healthz`` on any host, before host checks and HTTPS redirects, for
    load balancers and container health checks: checks PostgreSQL and Redis."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: TenantRequest) -> HttpResponseBase:
        if request.path != "/healthz":
            return self.get_response(request)
        from django.core.cache import cache

        status: dict[str, str] = {}
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            status["database"] = "ok"
        except Exception as exc:  # reported, not raised: this is the health page
            status["database"] = f"error: {exc.__class__.__name__}"
        try:
            cache.set("healthz", "1", 5)
            status["redis"] = "ok" if cache.get("healthz") == "1" else "error: no echo"
        except Exception as exc:
            status["redis"] = f"error: {exc.__class__.__name__}"
        healthy = all(v == "ok" for v in status.values())
        return JsonResponse(status, status=200 if healthy else 503)


class RequestLogMiddleware:
    """One ``prm.request`` line per request, written after the response:
    method, path (secret tokens hidden), status, duration, tenant, user and
    request id. The id comes
    from the ``X-Request-ID`` header when it is sane (a proxy's), otherwise it
    is made here; either way the response echoes it in ``X-Request-ID``.
    While the request runs, every log line carries the same id, tenant and
    user (``prm.log``).

    Sits right after ``HealthCheckMiddleware``: load balancer probes of
    ``/healthz`` are not logged."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: LoggedRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = log.request_id_from(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        with log.request_context(request_id) as context:
            status = 500
            try:
                response = self.get_response(request)
                status = response.status_code
                response["X-Request-ID"] = request_id
                return response
            finally:
                if context.user_id is None:
                    context.user_id = self.signed_in_user_id(request)
                duration_ms = round((time.perf_counter() - started) * 1000, 1)
                path = log.loggable_path(request)
                request_log.info(
                    "%s %s %s %.1fms",
                    request.method,
                    path,
                    status,
                    duration_ms,
                    extra={
                        "method": request.method,
                        "path": path,
                        "status": status,
                        "duration_ms": duration_ms,
                        **context.as_dict(),
                    },
                )

    @staticmethod
    def signed_in_user_id(request: HttpRequest) -> str | None:
        """The user a sign-in during this request put on it (a plain user,
        where the authentication middleware leaves a lazy one, which is not
        evaluated here)."""
        user = request.__dict__.get("user")
        if isinstance(user, SimpleLazyObject) or not getattr(user, "is_authenticated", False):
            return None
        # Not None: None has no is_authenticated, so it returned above.
        assert user is not None
        return str(user.pk)


class OutageMiddleware:
    """A view that meets an outage (PostgreSQL gone or its connection killed,
    the Redis cache unreachable) answers the branded 503 page instead of a
    500: see prm.tenancy.outage, which also handles the same errors raised
    by the middlewares (through ``handler500`` and ``handler400``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if (error := outage.outage_in(exception)) is None:
            return None
        return outage.unavailable(request, error)


class TenantMiddleware:
    """Resolve the tenant from the Host header and run the rest of the
    request, template rendering included, inside its scope.

    The platform host (the base domain itself) serves the platform admin with
    scopes disabled; it is open to superusers only. Any other unknown host
    gets a plain 404 page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: TenantRequest) -> HttpResponseBase:
        host = normalize_host(request.get_host())
        if is_platform_host(host):
            request.tenant = None  # type: ignore[assignment]  # platform host: no portal views
            request.urlconf = settings.PLATFORM_URLCONF
            with scopes_disabled():
                return self.get_response(request)
        tenant = tenant_for_host(host)
        if tenant is None:
            body = loader.render_to_string("tenancy/unknown_host.html", {"host": host})
            return HttpResponseNotFound(body)
        request.tenant = tenant
        log.bind(tenant=tenant.slug, tenant_id=tenant.pk)
        # Dates in pages and forms are the tenant's local time.
        timezone.activate(tenant.tzinfo)
        try:
            with tenant_scope(tenant):
                return self.get_response(request)
        finally:
            timezone.deactivate()


class MembershipMiddleware:
    """Attach ``request.membership``: the signed-in user's active membership
    in this tenant. A session whose user has none here (revoked, deactivated,
    or a member elsewhere only) is ended."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: TenantRequest) -> HttpResponseBase:
        request.membership = None
        user = request.user
        if request.tenant is None:
            if user.is_authenticated and not (user.is_active and user.is_superuser):
                logout(request)
        elif user.is_authenticated:
            membership = (
                Membership.objects.select_related(
                    "partner", "partner__tier", "partner__channel_manager"
                )
                .filter(user=user, is_active=True)
                .first()
            )
            if membership is None or not user.is_active:
                logout(request)
            else:
                membership.user = user
                # The same tenant object the request runs in: no query to read it.
                membership.tenant = request.tenant
                request.membership = membership
        if request.user.is_authenticated:
            log.bind(user_id=request.user.pk)
        return self.get_response(request)


class StaffMFAMiddleware:
    """Where the tenant requires it, vendor staff without an authenticator
    app are sent to set one up before they can open any other page."""

    ALLOWED_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: TenantRequest) -> HttpResponseBase:
        membership = getattr(request, "membership", None)
        if (
            membership is not None
            and membership.is_staff_role
            and request.tenant.require_staff_mfa
            and not request.path.startswith(self.ALLOWED_PREFIXES)
            and not request.path.startswith(settings.STATIC_URL)
        ):
            from allauth.mfa.models import Authenticator

            has_totp = Authenticator.objects.filter(
                user=request.user, type=Authenticator.Type.TOTP
            ).exists()
            if not has_totp:
                if request.method == "GET":
                    messages.warning(
                        request,
                        f"{request.tenant.name} requires two-factor authentication for staff. "
                        "Set up an authenticator app to continue.",
                    )
                    return redirect("mfa_activate_totp")
                return HttpResponse("Two-factor authentication must be set up first.", status=403)
        return self.get_response(request)


class PortalGateMiddleware:
    """Keep a partner's people to the pages the apps' portal gates leave
    open while a gate holds them (``PortalGate``): a GET elsewhere is sent
    to the page that lifts the gate, a POST elsewhere is refused (403) and
    changes nothing. Every page they open carries the gate's banner
    (``request.portal_gate``, shown by the base template)."""

    # The foundation's pages a held member can always open: signing out,
    # their account, their notifications, an invitation link.
    OPEN_NAMES = frozenset(
        {
            "account",
            "account_profile",
            "account_mails",
            "notifications",
            "notifications_read_all",
            "notification_read",
            "notification_open",
            "accept_invitation",
        }
    )
    OPEN_PREFIXES = ("/accounts/",)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: TenantRequest) -> HttpResponseBase:
        request.portal_gate = None
        membership = getattr(request, "membership", None)
        if membership is None or not membership.is_partner_role:
            return self.get_response(request)
        if request.path_info.startswith(outage.API_PREFIX):
            # The API refuses a held member itself, with a problem document
            # (prm.api.permissions), rather than a redirect to a page.
            return self.get_response(request)
        from . import registry

        for gate in registry.gates():
            held = gate.holds(membership)
            if held is None:
                continue
            request.portal_gate = held
            if not self._is_open(request, gate):
                return self._refuse(request, held)
            break
        return self.get_response(request)

    def _is_open(self, request: HttpRequest, gate: "PortalGate") -> bool:
        path = request.path_info
        if path.startswith(self.OPEN_PREFIXES) or path.startswith(settings.STATIC_URL):
            return True
        try:
            match = resolve(path, getattr(request, "urlconf", None))
        except Resolver404:
            return True  # the 404 page, as for anyone
        if match.url_name in self.OPEN_NAMES and not match.namespace:
            return True
        return match.view_name in gate.open_names or match.namespace in gate.open_namespaces

    @staticmethod
    def _refuse(request: HttpRequest, held: "Gate") -> HttpResponseBase:
        if request.method in ("GET", "HEAD"):
            return redirect(held.url)
        body = loader.render_to_string(
            "403.html", {"exception": f"{held.message} {held.action}: {held.url}"}, request
        )
        return HttpResponse(body, status=403)
