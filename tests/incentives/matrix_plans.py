"""URL matrix entries of the incentives plans admin (see matrix.py)."""

PLANS_ADMIN_OBJECTS: dict = {}
PLANS_ADMIN_NOBODY: set = set()
PLANS_CUSTOM_ADMIN_VIEWS: dict = {}
