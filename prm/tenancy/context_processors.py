from .roles import Role


def tenancy(request):
    membership = getattr(request, "membership", None)
    return {
        "tenant": getattr(request, "tenant", None),
        "membership": membership,
        "Role": Role,
        "nav": navigation(membership),
    }


def navigation(membership) -> list[tuple[str, str]]:
    """The portal's top navigation for a membership: (url name, label)."""
    if membership is None:
        return []
    items = [("home", "Home")]
    if membership.has_perm("people.manage_staff") or membership.has_perm(
        "people.manage_partner_colleagues"
    ):
        items.append(("people", "People"))
    if membership.has_perm("admin.access"):
        items.append(("tenant_admin:index", "Admin"))
    items.append(("account_email", "My account"))
    return items
