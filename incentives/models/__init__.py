"""Incentives: plans and their versioned rules, exchange rates, the
append-only ledger, statements, payout runs and disputes.

Every cent a partner is owed or paid is a ``LedgerEntry`` that names the
deal (or rebate period, dispute, payout run) it came from, the plan version
whose rule produced it and the exchange rate used. Entries are never changed
or deleted (a database trigger refuses it); corrections are new entries.
Every reference from one tenant-owned row to another is a composite foreign
key on ``(tenant_id, id)`` (``prm.tenancy.constraints``): it must exist in
the same tenant.

One module per subject; everything is importable from ``incentives.models``.
"""

from .config import ExchangeRate, IncentiveSettings
from .disputes import Dispute, DisputeMessage
from .fields import MONEY, PERCENT, RATE
from .ledger import (
    OPTIONAL_REFERENCE,
    DealAccrualState,
    LedgerEntry,
    canonical_decimal,
    entry_checksum,
)
from .payouts import PayoutLine, PayoutRun, Settlement, Statement
from .plans import Bracket, Plan, PlanVersion

__all__ = [
    "MONEY",
    "OPTIONAL_REFERENCE",
    "PERCENT",
    "RATE",
    "Bracket",
    "DealAccrualState",
    "Dispute",
    "DisputeMessage",
    "ExchangeRate",
    "IncentiveSettings",
    "LedgerEntry",
    "PayoutLine",
    "PayoutRun",
    "Plan",
    "PlanVersion",
    "Settlement",
    "Statement",
    "canonical_decimal",
    "entry_checksum",
]
