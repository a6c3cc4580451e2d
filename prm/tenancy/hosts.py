"""Mapping request hosts to tenants."""

from django.conf import settings

from .models import Tenant, TenantDomain


def normalize_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def is_platform_host(host: str) -> bool:
    return host == settings.PRM_BASE_DOMAIN


def tenant_for_host(host: str) -> Tenant | None:
    """The active tenant served at ``host``, or None."""
    suffix = "." + settings.PRM_BASE_DOMAIN
    if host.endswith(suffix):
        label = host[: -len(suffix)]
        if not label or "." in label:
            return None
        return Tenant.objects.filter(slug=label, is_active=True).first()
    domain = (
        TenantDomain.objects.select_related("tenant")
        .filter(host=host, tenant__is_active=True)
        .first()
    )
    return domain.tenant if domain else None
