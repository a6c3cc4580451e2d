"""The program app's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only: merged from one module per area."""

from typing import Any

from prm.tenancy.roles import PARTNER_ROLES

from . import url_matrix_admin as admin_part

PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "program:progress": {"allowed": PARTNER_ROLES},
}
ADMIN_OBJECTS: dict[str, Any] = {**admin_part.ADMIN_OBJECTS}
ADMIN_NOBODY: set[tuple[str, str]] = {*admin_part.ADMIN_NOBODY}
PERM_MODEL: dict[str, str] = {}
CUSTOM_ADMIN_VIEWS: dict[str, str] = {**admin_part.CUSTOM_ADMIN_VIEWS}
