"""Onboarding's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only: merged from one module per area."""

from typing import Any

PORTAL_ROUTES: dict[str, dict[str, Any]] = {}
ADMIN_OBJECTS: dict[str, Any] = {}
ADMIN_NOBODY: set[tuple[str, str]] = set()
PERM_MODEL: dict[str, str] = {}
CUSTOM_ADMIN_VIEWS: dict[str, str] = {}

# --- Merged parts -------------------------------------------------------------------
from . import url_matrix_plans  # noqa: E402

PORTAL_ROUTES.update(url_matrix_plans.PORTAL_ROUTES)
ADMIN_OBJECTS.update(url_matrix_plans.ADMIN_OBJECTS)
ADMIN_NOBODY |= url_matrix_plans.ADMIN_NOBODY
CUSTOM_ADMIN_VIEWS.update(url_matrix_plans.CUSTOM_ADMIN_VIEWS)
PERM_MODEL.update(url_matrix_plans.PERM_MODEL)
