"""What an API request may do: the permission table of the pages
(``membership.has_perm``), then, for a key, its scopes.

A view declares ``resource`` (the scope's name), ``read_perms`` and
``write_perms`` (any one of them will do), and ``action_perms`` for actions
that need something else (``{"submit": ("dealreg.submit_registration",)}``).
Object-scoped roles (channel managers on their own partners) are asked again
for each object (``has_object_permission``)."""

from typing import Any

from rest_framework import exceptions, permissions

from prm.tenancy import registry


def required_perms(view: Any, method: str) -> tuple[str, ...]:
    action = getattr(view, "action", None)
    declared = getattr(view, "action_perms", {}) or {}
    if action in declared:
        return tuple(declared[action])
    if method in permissions.SAFE_METHODS:
        return tuple(view.read_perms)
    return tuple(view.write_perms)


def is_write(view: Any, method: str) -> bool:
    action = getattr(view, "action", None)
    if action in (getattr(view, "read_actions", ()) or ()):
        return False
    return method not in permissions.SAFE_METHODS


class DeclaredPermission(permissions.BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        membership = getattr(request._request, "membership", None)
        if membership is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        perms = required_perms(view, request.method)
        if not any(membership.has_perm(p) for p in perms):
            raise exceptions.PermissionDenied("Your role may not do this.")
        key = getattr(request, "api_key", None)
        write = is_write(view, request.method)
        if key is not None and not key.allows(view.resource, write):
            scope = f"{view.resource}:{'write' if write else 'read'}"
            raise exceptions.PermissionDenied(f"This API key lacks the {scope} scope.")
        if membership.is_partner_role:
            for gate in registry.gates():
                held = gate.holds(membership)
                if held is not None:
                    raise exceptions.PermissionDenied(held.message)
        return True

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        if not hasattr(obj, "object_permission_target"):
            return True
        membership = request._request.membership
        perms = required_perms(view, request.method)
        if not any(membership.has_perm(p, obj) for p in perms):
            raise exceptions.PermissionDenied("You may not do this to this object.")
        return True
