"""Onboarding's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only: merged from one module per area."""

from typing import Any

from . import url_matrix_agreements as agreements

PORTAL_ROUTES: dict[str, dict[str, Any]] = {**agreements.PORTAL_ROUTES}
ADMIN_OBJECTS: dict[str, Any] = {**agreements.ADMIN_OBJECTS}
ADMIN_NOBODY: set[tuple[str, str]] = {*agreements.ADMIN_NOBODY}
PERM_MODEL: dict[str, str] = {}
CUSTOM_ADMIN_VIEWS: dict[str, str] = {**agreements.CUSTOM_ADMIN_VIEWS}
