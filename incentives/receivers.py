from typing import Any

from dealreg.models import DealRegistration
from prm.broker import kick


def deal_outcome_changed(sender: object, registration: DealRegistration, **kwargs: Any) -> None:
    """A won deal's accruals are written by a task, after the outcome's
    transaction has committed (the signal is sent on commit). A kick, not
    an outbox message: a deal whose outcome changed after its last sync is
    state the accrual sweep finds (``ledger.registrations_to_sync``) if the
    broker is down now."""
    kick(
        "incentives.tasks.sync_deal",
        tenant_id=str(registration.tenant_id),
        registration_id=str(registration.pk),
    )
