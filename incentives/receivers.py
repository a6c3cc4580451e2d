from typing import Any

from dealreg.models import DealRegistration

from .tasks import sync_deal


def deal_outcome_changed(sender: object, registration: DealRegistration, **kwargs: Any) -> None:
    """A won deal's accruals are written by a task, after the outcome's
    transaction has committed (the signal is sent on commit)."""
    sync_deal.delay(tenant_id=str(registration.tenant_id), registration_id=str(registration.pk))
