from typing import Any

from dealreg.models import DealRegistration

from .plans import sync_after_commit


def registration_changed(sender: object, registration: DealRegistration, **kwargs: Any) -> None:
    """A partner's registration was submitted or decided: its plan's
    "first deal" steps may be done (sent after commit; the kick's own
    on-commit runs at once)."""
    sync_after_commit(registration.partner)
