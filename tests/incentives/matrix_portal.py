"""URL matrix entries of the incentives portal pages and the disputes and
statements admin (see matrix.py)."""

PORTAL_ROUTES: dict = {}
PORTAL_ADMIN_OBJECTS: dict = {}
PORTAL_ADMIN_NOBODY: set = set()
PORTAL_CUSTOM_ADMIN_VIEWS: dict = {}
