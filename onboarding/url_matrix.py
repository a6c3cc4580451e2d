"""Onboarding's part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only: merged from one module per area."""

from typing import Any

from . import url_matrix_agreements as agreements
from . import url_matrix_api as api
from . import url_matrix_plans as plans
from . import url_matrix_training_admin as training_admin
from . import url_matrix_training_portal as training_portal
from . import url_matrix_vetting as vetting
from .url_matrix_apply import PORTAL_ROUTES as APPLY_ROUTES

PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    **APPLY_ROUTES,
    **agreements.PORTAL_ROUTES,
    **plans.PORTAL_ROUTES,
    **training_portal.PORTAL_ROUTES,
}
ADMIN_OBJECTS: dict[str, Any] = {
    **vetting.ADMIN_OBJECTS,
    **agreements.ADMIN_OBJECTS,
    **plans.ADMIN_OBJECTS,
    **training_admin.ADMIN_OBJECTS,
}
ADMIN_NOBODY: set[tuple[str, str]] = {
    *vetting.ADMIN_NOBODY,
    *agreements.ADMIN_NOBODY,
    *plans.ADMIN_NOBODY,
}
PERM_MODEL: dict[str, str] = {**plans.PERM_MODEL}
CUSTOM_ADMIN_VIEWS: dict[str, str] = {
    **agreements.CUSTOM_ADMIN_VIEWS,
    **plans.CUSTOM_ADMIN_VIEWS,
    **training_admin.CUSTOM_ADMIN_VIEWS,
}
# One object of a tenant per API route basename (tests/api/test_api_matrix.py).
API_OBJECTS: dict[str, Any] = {**api.API_OBJECTS}
