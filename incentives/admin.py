"""The incentives admin, one module per area."""

from . import admin_disputes, admin_payouts, admin_plans  # noqa: F401
