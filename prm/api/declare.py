"""The REST API's declaration: who manages API keys, and where.

Ops create staff keys (acting as any active staff member) and revoke any
key in the admin; partner admins create keys acting as themselves and
revoke their organisation's keys on the portal's "API keys" page. The
API's resources are the apps' own (``PRMApp.api``): this app serves none."""

from prm.tenancy.declarations import Card, NavEntry, PRMApp
from prm.tenancy.roles import OPS, Role

# The portal page of a partner organisation's keys.
MANAGE_PARTNER_KEYS = "api.manage_partner_keys"

APP = PRMApp(
    label="api",
    permissions={
        "api.view_apikey": OPS,
        "api.add_apikey": OPS,
        # Renaming and revoking; a key is never deleted (it stays listed, revoked).
        "api.change_apikey": OPS,
        MANAGE_PARTNER_KEYS: {Role.PARTNER_ADMIN},
    },
    nav=(NavEntry("api_keys:list", "API keys", (MANAGE_PARTNER_KEYS,), order=820),),
    cards=(
        Card(
            key="api.keys",
            title="API keys",
            url_name="tenant_admin:api_apikey_changelist",
            perms=("api.view_apikey",),
            description="Keys for integrations: create, see when each was last used, revoke.",
            setup=True,
            order=920,
        ),
    ),
    urls="prm.api.portal_urls",
    url_prefix="api-keys/",
    url_matrix="prm.api.url_matrix",
)
