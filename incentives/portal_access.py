"""Who may open a partner organisation's statements in the portal.

Partner admins always may, with everything the statements offer (disputes).
Partner users may when their program allows it
(``IncentiveSettings.partner_users_see_statements``), read-only: the
statements, their lines and files, and no disputes. Staff see statements
in the admin.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http.response import HttpResponseBase

from prm.tenancy.access import role_required
from prm.tenancy.models import Membership
from prm.tenancy.requests import MemberRequest

from .models import IncentiveSettings

# Everything in the portal's incentives pages: partner admins.
PERM = "portal.incentives"
# Reading the organisation's statements, where the program allows it.
READ_PERM = "portal.statements"


def may_read_statements(membership: Membership) -> bool:
    """Partner admins; partner users while their program allows it (asked
    once per request: the answer is kept on the request's membership, which
    the navigation, the home card and the view all ask)."""
    if membership.has_perm(PERM):
        return True
    if not membership.has_perm(READ_PERM):
        return False
    allowed = membership.__dict__.get(_ALLOWED)
    if allowed is None:
        allowed = IncentiveSettings.objects.filter(
            tenant_id=membership.tenant_id, partner_users_see_statements=True
        ).exists()
        membership.__dict__[_ALLOWED] = allowed
    return bool(allowed)


_ALLOWED = "_incentives_partner_users_see_statements"


def may_dispute(membership: Membership) -> bool:
    return membership.has_perm(PERM)


View = Callable[..., HttpResponseBase]


def statement_reader(view: View) -> View:
    """A statement page: for members who ``may_read_statements`` (anonymous:
    log in; any other member: 403)."""

    @role_required(PERM, READ_PERM)
    @wraps(view)
    def wrapper(request: MemberRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not may_read_statements(request.membership):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
