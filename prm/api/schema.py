"""How the API's authentication reads in the OpenAPI document."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "prm.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "prm_<prefix>_<secret>",
            "description": (
                "An API key, created by ops in the admin (staff keys) or by a partner "
                "admin in the portal (keys of their organisation). It acts as its member, "
                "with that member's role, for the scopes it was given."
            ),
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "prm.api.authentication.TenantSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "The portal's own session; writes need the CSRF token header.",
        }
