"""A new key's token, shown once.

The page that makes a key keeps its token in the person's session and
redirects to the page that shows it, which takes it out again: a reload,
the back button or another tab finds nothing to show (that page is never
cached), and the token is stored nowhere else. A form sent twice makes one
key (``create_key``'s ``form_token``); its second answer redirects to the
same page, which shows the token the first one kept."""

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from .models import ApiKey

SESSION_KEY = "api.new_key"


def keep(request: HttpRequest, key: ApiKey, token: str) -> None:
    request.session[SESSION_KEY] = {"key": str(key.pk), "token": token}


def take(request: HttpRequest, keys: QuerySet[ApiKey]) -> tuple[ApiKey, str] | None:
    """The new key among ``keys`` and its token, once; None when there is
    none to show (shown already, or not one of ``keys``)."""
    kept: Any = request.session.pop(SESSION_KEY, None)
    if not isinstance(kept, dict):
        return None
    try:
        key = keys.filter(pk=uuid.UUID(str(kept.get("key")))).first()
    except ValueError:
        return None
    if key is None:
        return None
    return key, str(kept.get("token", ""))
