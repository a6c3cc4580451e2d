"""The MDF admin, one module per area: configuration (``admin_config``),
budgets (``admin_funds``), allocations and their CSV import
(``admin_allocations``), the fund request queue (``admin_requests``) and
the claim queue and review (``admin_claims``); ``admin_lists`` and
``admin_forms`` hold what they share."""

from . import (  # noqa: F401
    admin_allocations,
    admin_claims,
    admin_config,
    admin_funds,
    admin_requests,
)
