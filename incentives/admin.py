"""The incentives admin, one module per area."""

from . import (  # noqa: F401
    admin_disputes,
    admin_ledger,
    admin_payouts,
    admin_plans,
    admin_rates,
)
