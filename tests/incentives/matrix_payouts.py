"""URL matrix entries of the incentives payouts admin (see matrix.py)."""

PAYOUTS_ADMIN_OBJECTS: dict = {}
PAYOUTS_ADMIN_NOBODY: set = set()
PAYOUTS_CUSTOM_ADMIN_VIEWS: dict = {}
