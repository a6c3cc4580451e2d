"""The API matrix's objects of incentives (tests/api/test_api_matrix.py):
one of the world's tenant per API route, by the route's basename."""

from typing import Any

from incentives.models import PayoutLine, PayoutRun

from .payouts import payout_run
from .portal import dispute, entry, statement


def run(world: Any) -> PayoutRun:
    """A run in review with a line of the world's partner (its entry is
    written first, so the run has something to compute)."""
    entry(world)
    return payout_run(world)


def line(world: Any) -> PayoutLine | None:
    found = run(world)
    with world.scope():
        return PayoutLine.objects.filter(run=found).first()


API_OBJECTS: dict = {
    "ledger-entry": entry,
    "statement": statement,
    "payout-run": run,
    "payout-line": line,
    "dispute": dispute,
}
