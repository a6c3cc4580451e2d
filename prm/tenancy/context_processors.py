from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from . import registry
from .models import Membership, Notification
from .roles import Role


def tenancy(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    return {
        "tenant": getattr(request, "tenant", None),
        "membership": membership,
        "portal_gate": getattr(request, "portal_gate", None),
        "Role": Role,
        "nav": navigation(membership),
        "unread_notifications": unread_notifications(membership),
    }


def unread_notifications(membership: Membership | None) -> int | SimpleLazyObject:
    """The member's unread notification count for the top navigation: one
    count on the (tenant, user, read_at) index, run only by pages that show it."""
    if membership is None or not membership.has_perm("notifications.view"):
        return 0
    return SimpleLazyObject(
        lambda: Notification.objects.filter(
            user_id=membership.user_id, read_at__isnull=True
        ).count()
    )


def navigation(membership: Membership | None) -> list[tuple[str, str]]:
    """The portal's top navigation for a membership: (url name, label), from
    the apps' declared entries this member's role may use."""
    if membership is None:
        return []
    return [
        (entry.url_name, entry.label)
        for entry in registry.navigation()
        if (not entry.perms or any(membership.has_perm(perm) for perm in entry.perms))
        and (entry.visible is None or entry.visible(membership))
    ]
