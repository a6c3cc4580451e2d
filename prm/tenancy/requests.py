"""The request as the tenancy middleware leaves it, for view annotations.

``TenantMiddleware`` sets ``request.tenant`` (``None`` only on the platform
host, which serves no portal view) and ``MembershipMiddleware`` sets
``request.membership``. Views annotate ``request: TenantRequest``; views
behind ``role_required`` / ``member_object`` may rely on a membership and
annotate ``request: MemberRequest``. Types only: no request is built from
these classes. Django's own admin methods receive a plain HttpRequest: they
read the same attributes through ``tenant_of`` and ``as_member``.
"""

from typing import cast

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from .models import Membership, Tenant, User


class TenantRequest(HttpRequest):
    tenant: Tenant
    urlconf: str  # set on the platform host only
    membership: Membership | None
    user: User | AnonymousUser
    portal_gate: object  # a declarations.Gate holding the member back, or None


class MemberRequest(TenantRequest):
    """A request ``role_required`` let through: a signed-in, active member."""

    membership: Membership
    user: User


def tenant_of(request: HttpRequest) -> Tenant:
    """``request.tenant`` where a Django API hands views a plain HttpRequest
    (admin methods): the middleware set it before any of them runs."""
    return cast(TenantRequest, request).tenant


def as_member(request: HttpRequest) -> MemberRequest:
    """A tenant admin request as the member's request it is: the tenant
    admin site admits only members (``TenantAdminSite.has_permission``)."""
    return cast(MemberRequest, request)
