from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template import loader
from django.utils import timezone
from django_scopes import scopes_disabled

from .hosts import is_platform_host, normalize_host, tenant_for_host
from .models import Membership
from .requests import TenantRequest
from .scoping import tenant_scope


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
                request.membership = membership
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
