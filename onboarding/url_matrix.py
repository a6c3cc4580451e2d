"""Onboarding's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only: merged from one module per area."""

from typing import Any

from . import url_matrix_vetting
from .url_matrix_apply import PORTAL_ROUTES as APPLY_ROUTES

PORTAL_ROUTES: dict[str, dict[str, Any]] = {**APPLY_ROUTES}
ADMIN_OBJECTS: dict[str, Any] = {**url_matrix_vetting.ADMIN_OBJECTS}
ADMIN_NOBODY: set[tuple[str, str]] = {*url_matrix_vetting.ADMIN_NOBODY}
PERM_MODEL: dict[str, str] = {}
