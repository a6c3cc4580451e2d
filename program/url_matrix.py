"""The program app's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only: merged from one module per area."""

from typing import Any

from . import url_matrix_admin as admin_part
from . import url_matrix_compliance as compliance
from . import url_matrix_pages as pages

PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    **pages.PORTAL_ROUTES,
    **compliance.PORTAL_ROUTES,
}
ADMIN_OBJECTS: dict[str, Any] = {
    **pages.ADMIN_OBJECTS,
    **compliance.ADMIN_OBJECTS,
    **admin_part.ADMIN_OBJECTS,
}
ADMIN_NOBODY: set[tuple[str, str]] = {*compliance.ADMIN_NOBODY, *admin_part.ADMIN_NOBODY}
PERM_MODEL: dict[str, str] = {}
CUSTOM_ADMIN_VIEWS: dict[str, str] = {**admin_part.CUSTOM_ADMIN_VIEWS}
# One object of a tenant per API route basename (tests/api/test_api_matrix.py):
# a partner's tier progress is read by the partner's id.
API_OBJECTS: dict[str, Any] = {
    "tier-progress": lambda world: world.partner,
    "compliance-review": compliance.review,
}
