"""Payout runs: finance pays out what partners have earned, exactly once.

A run has a cutoff date. A partner's *payable* at the cutoff is the sum of
``amount_base`` of their **unsettled** ledger entries with ``available_on <=
cutoff``: accruals become available after the holding period, clawbacks and
negative adjustments at once (so they reduce what is paid). Each entry is
settled at most once (``Settlement.entry`` is one-to-one), by the payout entry
that paid it; the payout entry settles itself, so it never counts again.

The life of a run::

    start_run ──> COMPUTING ──(compute_run, a task)──> REVIEW
    REVIEW: set_hold / release per partner; cancel
    approve ──> APPROVING ──(write_payouts, a task)──> APPROVED
    mark_paid ──> PAID (payment reference; close-to-paid days recorded)

A line per partner with a non-zero payable: negative → ``NEGATIVE`` (nothing
paid, the entries carry forward against future earnings); below the run's
minimum → ``BELOW_MINIMUM`` (carries forward); else ``READY``.

Exactly once: ``write_payouts`` handles each ready partner in its own
transaction under the partner's ledger lock, re-reading what is payable (a
clawback may have arrived since review), and writes one payout entry with the
idempotency key ``payout:<run>:<partner>`` together with the settlements of
the entries it pays and the line's new state. A worker that dies mid-run
leaves every partner either fully written or untouched; running the task
again (a retry, ``resume_stalled_runs``, two workers at once) skips what is
done. Only one run per tenant may be open (computing, in review or writing)
at a time, so two runs never compete for the same entries.

The steps live in modules named for them: ``computing`` (starting and
computing, fenced by the heartbeat), ``review`` (holds, cancel, retry,
failures), ``writing`` (approval and the payouts), ``paid`` (payment and
the accounts payable export), with what they share in ``common``. This
package is where the rest of the product calls them from.
"""

from .common import OPEN, PayoutError, line_status, open_run, unsettled_entries
from .computing import COMPUTE_CHUNK, compute_run, start_run
from .paid import AP_COLUMNS, ap_rows, mark_paid
from .review import cancel, record_failure, retry, set_hold
from .writing import approve, maker_may_not_approve, write_payouts

__all__ = [
    "AP_COLUMNS",
    "COMPUTE_CHUNK",
    "OPEN",
    "PayoutError",
    "ap_rows",
    "approve",
    "cancel",
    "compute_run",
    "line_status",
    "maker_may_not_approve",
    "mark_paid",
    "open_run",
    "record_failure",
    "retry",
    "set_hold",
    "start_run",
    "unsettled_entries",
    "write_payouts",
]
