"""The incentives part of the URL matrix (tests/test_url_matrix.py), one
module per area. Portal routes are dicts of ``Route`` arguments (allowed,
method, public, args); admin objects are factories returning one object of
the world's tenant (the same one when called again)."""

from .matrix_payouts import PAYOUTS_ADMIN_NOBODY, PAYOUTS_ADMIN_OBJECTS, PAYOUTS_CUSTOM_ADMIN_VIEWS
from .matrix_plans import PLANS_ADMIN_NOBODY, PLANS_ADMIN_OBJECTS, PLANS_CUSTOM_ADMIN_VIEWS
from .matrix_portal import (
    PORTAL_ADMIN_NOBODY,
    PORTAL_ADMIN_OBJECTS,
    PORTAL_CUSTOM_ADMIN_VIEWS,
    PORTAL_ROUTES,
)

INCENTIVES_PORTAL_ROUTES = PORTAL_ROUTES
INCENTIVES_ADMIN_OBJECTS = {**PAYOUTS_ADMIN_OBJECTS, **PLANS_ADMIN_OBJECTS, **PORTAL_ADMIN_OBJECTS}
INCENTIVES_ADMIN_NOBODY = {*PAYOUTS_ADMIN_NOBODY, *PLANS_ADMIN_NOBODY, *PORTAL_ADMIN_NOBODY}
INCENTIVES_CUSTOM_ADMIN_VIEWS = {
    **PAYOUTS_CUSTOM_ADMIN_VIEWS,
    **PLANS_CUSTOM_ADMIN_VIEWS,
    **PORTAL_CUSTOM_ADMIN_VIEWS,
}
