"""The program app's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only: merged from one module per area."""

from typing import Any

from . import url_matrix_pages as pages

PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    **pages.PORTAL_ROUTES,
}
ADMIN_OBJECTS: dict[str, Any] = {
    **pages.ADMIN_OBJECTS,
}
ADMIN_NOBODY: set[tuple[str, str]] = set()
PERM_MODEL: dict[str, str] = {}
CUSTOM_ADMIN_VIEWS: dict[str, str] = {}
