from django.utils.functional import SimpleLazyObject

from .models import Notification
from .roles import Role


def tenancy(request):
    membership = getattr(request, "membership", None)
    return {
        "tenant": getattr(request, "tenant", None),
        "membership": membership,
        "Role": Role,
        "nav": navigation(membership),
        "unread_notifications": unread_notifications(membership),
    }


def unread_notifications(membership):
    """The member's unread notification count for the top navigation: one
    count on the (tenant, user, read_at) index, run only by pages that show it."""
    if membership is None or not membership.has_perm("notifications.view"):
        return 0
    return SimpleLazyObject(
        lambda: Notification.objects.filter(
            user_id=membership.user_id, read_at__isnull=True
        ).count()
    )


def navigation(membership) -> list[tuple[str, str]]:
    """The portal's top navigation for a membership: (url name, label)."""
    if membership is None:
        return []
    items = [("home", "Home")]
    if membership.has_perm("portal.dealreg"):
        items.append(("dealreg:list", "Deals"))
    if membership.has_perm("portal.incentives"):
        items.append(("incentives:statements", "Statements"))
    if membership.has_perm("people.manage_staff") or membership.has_perm(
        "people.manage_partner_colleagues"
    ):
        items.append(("people", "People"))
    if membership.has_perm("notifications.view"):
        items.append(("notifications", "Notifications"))
    if membership.has_perm("admin.access"):
        items.append(("tenant_admin:index", "Admin"))
    items.append(("account_email", "My account"))
    return items
