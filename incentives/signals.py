"""What incentives tells the later apps, which it may not import.

``payout_run_paid`` is sent inside ``payouts.mark_paid``'s transaction
once a run is recorded as paid, with ``run`` (a ``PayoutRun``), ``paid_on``
(a date) and ``now``: a receiver may write in that transaction (the MDF
app emits ``claim.paid`` for the claims whose reimbursements it paid)."""

from django.dispatch import Signal

payout_run_paid = Signal()
