from typing import Any

from dealreg.models import DealRegistration
from prm.broker import kick


def deal_outcome_changed(sender: object, registration: DealRegistration, **kwargs: Any) -> None:
    """A won (or reversed, or corrected) deal's co-op accruals are written
    by a task after the outcome has committed. A kick: the daily sweep
    (``tasks.sweep_funds``) re-syncs recent outcomes if the broker was down."""
    kick(
        "mdf.tasks.sync_coop",
        tenant_id=str(registration.tenant_id),
        registration_id=str(registration.pk),
    )
