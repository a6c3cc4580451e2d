"""The program admin, one module per area: the review policy and the tier
criteria (``admin_criteria``, with the draft's simulation in
``admin_simulation``), evaluations (``admin_evaluations``) and holds
(``admin_holds``)."""

from . import admin_criteria, admin_evaluations, admin_holds  # noqa: F401
