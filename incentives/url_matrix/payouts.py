"""URL matrix entries of the incentives payouts admin (see __init__.py)."""

from typing import Any

from incentives import payouts
from incentives.models import PayoutRun
from prm.tenancy.roles import Role


def payout_run(world: Any) -> PayoutRun:
    """A run of the world's tenant in review (computed from its ledger)."""
    with world.scope():
        existing = PayoutRun.objects.first()
        if existing is not None:
            return existing
        run = payouts.start_run(
            world.tenant, by=world[Role.FINANCE], cutoff=world.tenant.local_today()
        )
        return payouts.compute_run(run)


PAYOUTS_ADMIN_OBJECTS: dict = {"incentives.payoutrun": payout_run}
# Runs are never deleted: their entries and settlements point at them.
PAYOUTS_ADMIN_NOBODY: set = {("incentives.payoutrun", "delete")}
PAYOUTS_CUSTOM_ADMIN_VIEWS: dict = {
    "incentives_payoutrun_export": "incentives.export_payoutrun",
}
