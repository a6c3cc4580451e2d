"""Signals later apps listen to (the partner program checks whether a
partner now qualifies for a higher tier)."""

from django.dispatch import Signal

# Sent after the transaction that confirmed a training record (entered by
# staff, imported, or a report confirmed) has committed. Arguments:
# ``record``.
training_confirmed = Signal()
