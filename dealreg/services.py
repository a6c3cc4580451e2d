"""Deal registration operations: the whole workflow, from draft to outcome.

The one place the product imports them from; they live in modules named
for what they hold: ``workflow`` (what every operation shares: the refusal,
who may do what, locks, events, links, the SLA clock's state),
``submission`` (drafts, submitting, information requests), ``decisions``
(approve, reject, withdraw, reassign, messages) and ``protection``
(extensions and outcomes). See ``workflow`` for how an operation is written.
"""

from .decisions import (
    add_message,
    approve,
    approved_conflicts,
    protection_days,
    reassign,
    reject,
    withdraw,
)
from .protection import (
    correct_outcome,
    decide_extension,
    record_outcome,
    request_extension,
    reverse_win,
)
from .submission import (
    RegistrationInput,
    delete_draft,
    provide_info,
    request_info,
    save_draft,
    submit,
    validate_custom_data,
)
from .workflow import (
    REGISTRATION_FIELDS,
    DealRegError,
    Kind,
    Status,
    admin_change_url,
    business_time_left,
    can_decide,
    detail_url,
    is_partner_member_of,
    partner_people,
    sla_state,
)

__all__ = [
    "REGISTRATION_FIELDS",
    "DealRegError",
    "Kind",
    "RegistrationInput",
    "Status",
    "add_message",
    "admin_change_url",
    "approve",
    "approved_conflicts",
    "business_time_left",
    "can_decide",
    "correct_outcome",
    "decide_extension",
    "delete_draft",
    "detail_url",
    "is_partner_member_of",
    "partner_people",
    "protection_days",
    "provide_info",
    "reassign",
    "record_outcome",
    "reject",
    "request_extension",
    "request_info",
    "reverse_win",
    "save_draft",
    "sla_state",
    "submit",
    "validate_custom_data",
    "withdraw",
]
