"""Deal registration: partners register the deals they work so the vendor
protects them from channel conflict, and decides within an SLA.

One module per area: ``config`` (product lines, settings, closure days, tier
protection, custom fields, routing rules), ``direct`` (the vendor's own
opportunities), ``registrations`` (registrations and what happens to them).
"""

from .config import (
    ClosureDay,
    CustomField,
    DealRegSettings,
    ProductLine,
    RoutingRule,
    TierProtection,
    default_reminders,
    default_workdays,
)
from .direct import DirectOpportunity
from .registrations import (
    ActiveClaim,
    Conflict,
    DealRegistration,
    ExtensionRequest,
    RegistrationEvent,
    SlaMark,
    new_registration_code,
)

__all__ = [
    "ActiveClaim",
    "ClosureDay",
    "Conflict",
    "CustomField",
    "DealRegSettings",
    "DealRegistration",
    "DirectOpportunity",
    "ExtensionRequest",
    "ProductLine",
    "RegistrationEvent",
    "RoutingRule",
    "SlaMark",
    "TierProtection",
    "default_reminders",
    "default_workdays",
    "new_registration_code",
]
