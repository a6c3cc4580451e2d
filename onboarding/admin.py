"""The onboarding admin, one module per area: applications and their
vetting (``admin_applications``), configuration (``admin_config``), plan
templates and plans (``admin_plans``), agreements and acceptances
(``admin_agreements``), training (``admin_training``)."""

from . import (  # noqa: F401
    admin_agreements,
    admin_applications,
    admin_config,
    admin_plans,
    admin_training,
)
