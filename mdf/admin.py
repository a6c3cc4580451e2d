"""The MDF admin, one module per area: configuration (``admin_config``),
budgets and allocations (``admin_funds``), the fund request queue
(``admin_requests``) and the claim queue and review (``admin_claims``);
``admin_lists`` and ``admin_forms`` hold what they share."""

from . import admin_claims, admin_config, admin_funds, admin_requests  # noqa: F401
