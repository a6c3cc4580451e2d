"""Access checks for portal views, from the one permission table in roles.py.

Anonymous people are sent to log in; a member whose role lacks the
permission gets 403. Objects the member may not see at all are looked up
through ``visible_or_404`` so "missing" and "not yours" read the same.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404


def role_required(*perms: str):
    """Require a signed-in member of this tenant holding any of ``perms``."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            membership = getattr(request, "membership", None)
            if membership is None:
                return redirect_to_login(request.get_full_path())
            if perms and not any(membership.has_perm(p) for p in perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.required_perms = perms
        return wrapper

    return decorator


def visible_or_404(queryset, **lookup):
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404("No such object.")
    return obj
