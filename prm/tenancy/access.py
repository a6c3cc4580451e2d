"""Access checks for portal views, from the one permission table in roles.py.

Anonymous people are sent to log in; a member whose role lacks the
permission gets 403. Objects the member may not see at all are looked up
through ``visible_or_404`` so "missing" and "not yours" read the same, and
a partner organisation's own objects through ``own_or_404`` /
``member_object``: another partner's object reads like a missing one.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from .requests import MemberRequest

_M = TypeVar("_M", bound=models.Model)
View = Callable[..., HttpResponseBase]
_V = TypeVar("_V", bound=View)


def role_required(*perms: str) -> Callable[[_V], _V]:
    """Require a signed-in member of this tenant holding any of ``perms``."""

    def decorator(view: _V) -> _V:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            membership = getattr(request, "membership", None)
            if membership is None:
                return redirect_to_login(request.get_full_path())
            if perms and not any(membership.has_perm(p) for p in perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.required_perms = perms  # type: ignore[attr-defined]  # read by the URL matrix
        return cast(_V, wrapper)  # same call signature as the view

    return decorator


def visible_or_404(queryset: models.QuerySet[_M], **lookup: Any) -> _M:
    """The object ``lookup`` finds, else 404; a looked-up value that is not
    one of the field's type (``abc`` for a UUID, a NUL character that
    PostgreSQL refuses in any text) finds nothing, rather than failing in
    the query (both are refused before anything is sent)."""
    try:
        obj = queryset.filter(**lookup).first()
    except (ValidationError, ValueError):
        obj = None
    if obj is None:
        raise Http404("No such object.")
    return obj


def own_or_404(request: MemberRequest, obj: _M, *, perm: str, owner: str = "partner_id") -> _M:
    """``obj`` if it belongs to the member's partner organisation: 403 for a
    member whose role lacks ``perm`` (asked once the object is known to
    exist in this tenant), 404 for another partner's object."""
    if not request.membership.has_perm(perm):
        raise PermissionDenied
    if getattr(obj, owner) != request.membership.partner_id:
        raise Http404("No such object.")
    return obj


def member_object(
    queryset: Callable[[], models.QuerySet[Any]],
    *,
    perm: str,
    lookup: str = "pk",
    owner: str = "partner_id",
    normalize: Callable[[str], object] | None = None,
    url_kwarg: str | None = None,
) -> Callable[[View], View]:
    """Decorator for a portal view of one of the member's own objects: the
    view's first URL argument is looked up as ``lookup`` in ``queryset()``
    (a callable, so the query is built inside the request's tenant scope)
    and the view gets the object instead. Unknown or another tenant's: 404;
    role without ``perm``: 403; another partner's: 404."""

    def decorator(view: View) -> View:
        @role_required()
        @wraps(view)
        def wrapper(request: MemberRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            name = url_kwarg or lookup
            if name in kwargs:
                key = kwargs.pop(name)
            else:
                key, args = args[0], args[1:]
            value = normalize(key) if normalize is not None else key
            obj = visible_or_404(queryset(), **{lookup: value})
            own_or_404(request, obj, perm=perm, owner=owner)
            if hasattr(obj, "tenant_id"):
                obj.tenant = request.tenant
            return view(request, obj, *args, **kwargs)

        return wrapper

    return decorator
