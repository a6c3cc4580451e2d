"""Market development funds' declaration (minimal: the proof download's
permissions and URLs; the lead's full declaration replaces it)."""

from prm.tenancy.declarations import PRMApp
from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES

APP = PRMApp(
    label="mdf",
    permissions={
        "portal.mdf": PARTNER_ROLES,
        "mdf.view_claim": STAFF_ROLES,
    },
    urls="mdf.urls",
    url_prefix="funds/",
    url_matrix="mdf.url_matrix",
)
