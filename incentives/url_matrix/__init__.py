"""Incentives' part of the URL-matrix test (tests/test_url_matrix.py), one
module per area, loaded by the tests only (``PRMApp.url_matrix``). Portal
routes are dicts of ``Route`` arguments (allowed, method, public, args);
admin objects are factories returning one object of the world's tenant (the
same one when called again)."""

from .api import API_OBJECTS
from .payouts import PAYOUTS_ADMIN_NOBODY, PAYOUTS_ADMIN_OBJECTS, PAYOUTS_CUSTOM_ADMIN_VIEWS
from .plans import PLANS_ADMIN_NOBODY, PLANS_ADMIN_OBJECTS, PLANS_CUSTOM_ADMIN_VIEWS
from .portal import (
    PORTAL_ADMIN_NOBODY,
    PORTAL_ADMIN_OBJECTS,
    PORTAL_CUSTOM_ADMIN_VIEWS,
    PORTAL_ROUTES,
)

ADMIN_OBJECTS = {**PAYOUTS_ADMIN_OBJECTS, **PLANS_ADMIN_OBJECTS, **PORTAL_ADMIN_OBJECTS}
ADMIN_NOBODY = {*PAYOUTS_ADMIN_NOBODY, *PLANS_ADMIN_NOBODY, *PORTAL_ADMIN_NOBODY}
CUSTOM_ADMIN_VIEWS = {
    **PAYOUTS_CUSTOM_ADMIN_VIEWS,
    **PLANS_CUSTOM_ADMIN_VIEWS,
    **PORTAL_CUSTOM_ADMIN_VIEWS,
}

__all__ = ["ADMIN_NOBODY", "ADMIN_OBJECTS", "API_OBJECTS", "CUSTOM_ADMIN_VIEWS", "PORTAL_ROUTES"]
