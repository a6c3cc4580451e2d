"""The API app's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only (``PRMApp.url_matrix``): the portal's "API keys"
pages (partner admins) and the admin's API keys (ops), with a key of each
kind made through ``keys.create_key``. Each factory returns the same key
when called again for the same tenant."""

from typing import Any

from prm.tenancy.models import Membership
from prm.tenancy.roles import Role

from . import keys
from .models import ApiKey

PARTNER_ADMINS = {Role.PARTNER_ADMIN}


def _key(world: Any, role: str, name: str) -> ApiKey:
    with world.scope():
        membership: Membership = world[role]
        found = ApiKey.objects.filter(membership=membership, name=name).first()
        if found is not None:
            return found
        key, _token = keys.create_key(
            tenant=world.tenant,
            membership=membership,
            by=membership.user,
            name=name,
            scopes=[value for value, _label in keys.scope_choices(membership)][:1],
            expires_at=None,
        )
        return key


def staff_key(world: Any) -> ApiKey:
    return _key(world, Role.OPS_ADMIN, "Matrix staff key")


def partner_key(world: Any) -> list[Any]:
    return [_key(world, Role.PARTNER_ADMIN, "Matrix partner key").pk]


PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "api_keys:list": {"allowed": PARTNER_ADMINS},
    "api_keys:new": {"allowed": PARTNER_ADMINS},
    # With no new key in the session: the page saying a key is shown once.
    "api_keys:created": {"allowed": PARTNER_ADMINS},
    # Without confirm=yes: the confirmation page, nothing revoked.
    "api_keys:revoke": {"allowed": PARTNER_ADMINS, "method": "post", "args": partner_key},
}
ADMIN_OBJECTS: dict[str, Any] = {"api.apikey": staff_key}
CUSTOM_ADMIN_VIEWS: dict[str, str] = {"api_apikey_created": "api.add_apikey"}

# The API's own resources (tests/api/test_api_matrix.py, by the route's
# basename): none, the apps declare theirs (partners/url_matrix.py ...).
API_OBJECTS: dict[str, Any] = {}
