"""A partner's figures rose: check, after the change committed, whether it
now qualifies for a higher tier (``evaluation.upgrade_check``)."""

from typing import Any

from prm.broker import kick_on_commit

from .tasks import CHECK_UPGRADE


def _check(partner: Any) -> None:
    kick_on_commit(CHECK_UPGRADE, tenant_id=str(partner.tenant_id), partner_id=str(partner.pk))


def registration_changed(sender: object, registration: Any, **kwargs: Any) -> None:
    """A registration was decided or its outcome changed (a win)."""
    if registration.status in ("approved", "won"):
        _check(registration.partner)


def training_confirmed(sender: object, record: Any, **kwargs: Any) -> None:
    if record.certification_id is not None:
        _check(record.partner)
