"""The program admin, one module per area."""

from . import admin_standings  # noqa: F401  (partners about to move)
