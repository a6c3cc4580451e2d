"""Signals other apps listen to (incentives pays on won deals; onboarding
ticks a new partner's "first deal" steps)."""

from django.dispatch import Signal

# Sent after the transaction that recorded or changed a registration's
# outcome (won, lost, amount corrected, win reversed) has committed.
# Arguments: ``registration``.
outcome_changed = Signal()

# Sent after the transaction that submitted a registration (a new one or a
# draft) has committed. Arguments: ``registration``.
registration_submitted = Signal()

# Sent after the transaction that approved (by a person or the SLA policy)
# or rejected a registration has committed. Arguments: ``registration``.
registration_decided = Signal()
