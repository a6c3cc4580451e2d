"""Template filters of the statement and dispute pages that know the ledger
(the generic ones, money and rate, are in ``{% load prm %}``)."""

from django import template

from incentives.models import LedgerEntry
from incentives.wording import cause as entry_cause

register = template.Library()


@register.filter
def cause(entry: LedgerEntry) -> str:
    """What caused a ledger entry, in business words ("Deal won")."""
    return entry_cause(entry)
