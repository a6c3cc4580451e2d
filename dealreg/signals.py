"""Signals other apps listen to (incentives pays on won deals)."""

from django.dispatch import Signal

# Sent after the transaction that recorded or changed a registration's
# outcome (won, lost, amount corrected, win reversed) has committed.
# Arguments: ``registration``.
outcome_changed = Signal()
