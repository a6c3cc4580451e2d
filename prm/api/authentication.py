"""Who an API request acts as: an API key (``Authorization: Bearer prm_…``)
or the signed-in session of the pages (with CSRF, as DRF checks it).

A key that is unknown, revoked, expired, whose member is no longer active,
or that belongs to another tenant than the host's gets the same 401 and the
same body: a caller cannot tell them apart."""

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions

from prm.tenancy.models import Membership

from .models import ApiKey

INVALID = "The API key is invalid, revoked or expired."
# last_used_at is written at most this often per key.
USED_EVERY = timedelta(minutes=1)


class KeyInvalid(exceptions.AuthenticationFailed):
    default_detail = INVALID
    default_code = "invalid_api_key"


def _attach(request: Any, membership: Membership, key: ApiKey | None) -> None:
    django_request = request._request
    membership.tenant = django_request.tenant
    django_request.membership = membership
    django_request.api_key = key
    request.api_key = key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise KeyInvalid()
        tenant = getattr(request._request, "tenant", None)
        parts = ApiKey.split(header[1].decode("latin-1"))
        if tenant is None or parts is None:
            raise KeyInvalid()
        prefix, secret = parts
        key = (
            ApiKey.objects.select_related("membership__user", "membership__partner")
            .filter(prefix=prefix, tenant=tenant)
            .first()
        )
        now = timezone.now()
        if key is None or not key.matches(secret) or key.state(now) != "active":
            raise KeyInvalid()
        membership = key.membership
        if not membership.is_active or not membership.user.is_active:
            raise KeyInvalid()
        if key.last_used_at is None or key.last_used_at < now - USED_EVERY:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        _attach(request, membership, key)
        return membership.user, key

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class TenantSessionAuthentication(authentication.SessionAuthentication):
    """The pages' own session, for a member of this tenant only (CSRF
    enforced on writes by DRF)."""

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        membership = getattr(request._request, "membership", None)
        if membership is None:
            return None
        found = super().authenticate(request)
        if found is None:
            return None
        _attach(request, membership, None)
        return found
