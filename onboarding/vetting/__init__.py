"""Vetting applications: the queue, the checklist, notes, questions to the
applicant, and the decision.

An application confirmed by its applicant is queued (``queue``, run by the
``applications.ON_QUEUED`` hook): a reviewer is routed to it (the channel
manager of the first matching assignment rule, else ops) and a decision
deadline set on the vendor's business calendar. A question to the applicant
pauses that clock; their answer (``resume``, the ``ON_ANSWERED`` hook)
moves the deadline on by the business time it waited.

Ops decide any application, a channel manager the ones routed to them.
Approval (``approve``) creates the partner, its primary contact, the
applicant's invitation as its partner admin, its channel manager and its
onboarding plan in one transaction: a refusal at any step leaves nothing.
Each operation is audited and refused with an ``OnboardingError`` whose
message is for the reviewer; mail to the applicant leaves after commit.
"""

from .access import (
    DECIDE,
    DECIDE_PERM,
    NOTE_PERM,
    admin_url,
    assigned_to,
    may_approve,
    may_decide,
    overdue,
    reviewers,
    waiting_for,
)
from .approval import approve
from .clock import on_answered, on_queued, queue, resume
from .review import add_note, missing_checks, reject, request_info, tick_check, untick_check

__all__ = [
    "DECIDE",
    "DECIDE_PERM",
    "NOTE_PERM",
    "add_note",
    "admin_url",
    "approve",
    "assigned_to",
    "may_approve",
    "may_decide",
    "missing_checks",
    "on_answered",
    "on_queued",
    "overdue",
    "queue",
    "reject",
    "request_info",
    "resume",
    "reviewers",
    "tick_check",
    "untick_check",
    "waiting_for",
]
