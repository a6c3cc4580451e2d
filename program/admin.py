"""The program admin, one module per area: the review policy and the tier
criteria (``admin_criteria``, with the draft's simulation in
``admin_simulation``), evaluations (``admin_evaluations``), holds
(``admin_holds``), partners about to move (``admin_standings``) and
compliance reviews (``admin_compliance``)."""

from . import admin_compliance as admin_compliance
from . import (  # noqa: F401
    admin_criteria,
    admin_evaluations,
    admin_holds,
    admin_standings,
)
