"""When a rate-limited person may try again, and the page that says so.

allauth counts attempts in the cache (``ACCOUNT_RATE_LIMITS``): for each
rate ("5/5m/key": five in five minutes per login) a list of the attempts'
times under one key. An action is allowed again once, for every rate it
exceeds, enough of the counted attempts have left the rate's window; the
attempt that has to leave last is the ``amount``-th newest. That moment is
what the lockout message and the "too many attempts" page (``handler429``
of both URL confs) tell the person, in the tenant's time zone.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from allauth.core.internal import ratelimit
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_cache_control

ACCOUNT_APP = "allauth.account"

# The allauth pages that answer 429 (``consume_or_429``), by URL name: the
# action they count, and the request's field that keys a per-key rate.
PAGE_ACTIONS: dict[str, tuple[str, str | None]] = {
    "account_reset_password": ("reset_password", "email"),
    "account_reset_password_from_key": ("reset_password_from_key", None),
    "account_reauthenticate": ("reauthenticate", None),
    "mfa_reauthenticate": ("reauthenticate", None),
    "account_change_password": ("change_password", None),
    "account_set_password": ("change_password", None),
    "account_email": ("manage_email", None),
    "account_login": ("login", None),
}
# What each action is, for the page's sentence.
DOINGS = {
    "reset_password": "password reset requests",
    "reset_password_from_key": "password resets",
    "reauthenticate": "password confirmations",
    "change_password": "password changes",
    "manage_email": "email address changes",
    "login": "sign-in attempts",
    "login_failed": "failed sign-in attempts",
}


def retry_in(
    request: HttpRequest,
    action: str,
    *,
    key: str | None = None,
    user: Any = None,
    app: str = ACCOUNT_APP,
    now: float | None = None,
) -> float:
    """Seconds until ``action`` is allowed again for this request (0: now).
    A per-key rate counts only when ``key`` is given, a per-user one only
    for a known user."""
    now = time.time() if now is None else now
    wait = 0.0
    for rate in ratelimit.get_rates(app=app, action=action):
        if rate.per == "key" and key is None:
            continue
        if rate.per == "user" and user is None and not request.user.is_authenticated:
            continue
        cache_key = ratelimit.get_cache_key(
            request, app=app, action=action, rate=rate, key=key, user=user
        )
        counted = sorted(
            (ts for ts in cache.get(cache_key, []) if ts > now - rate.duration), reverse=True
        )
        if len(counted) >= rate.amount:
            wait = max(wait, counted[rate.amount - 1] + rate.duration - now)
    return wait


def longest_window(action: str, app: str = ACCOUNT_APP) -> float:
    """The longest window of ``action``'s rates: nobody waits longer."""
    return max((rate.duration for rate in ratelimit.get_rates(app=app, action=action)), default=60)


def try_again(seconds: float, *, now: datetime | None = None) -> str:
    """ "Try again in 4 minutes (after 14:05)." for a wait of ``seconds``, the
    time in the active (the tenant's) time zone, rounded up to the minute so
    that "after" holds."""
    now = timezone.now() if now is None else now
    seconds = max(seconds, 1)
    when = timezone.localtime(now + timedelta(seconds=seconds))
    if when.second or when.microsecond:
        when = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if seconds < 60:
        count = math.ceil(seconds)
        span = f"{count} second{'s' if count != 1 else ''}"
    else:
        count = math.ceil(seconds / 60)
        span = f"{count} minute{'s' if count != 1 else ''}"
    return f"Try again in {span} (after {when:%H:%M})."


def lockout_message(seconds: float) -> str:
    return f"Too many failed sign-in attempts. {try_again(seconds)}"


def login_lockout_message(request: HttpRequest, key: str) -> str:
    """The sign-in lockout's message for the login ``key`` (allauth's
    ``<site>:<email>``), or for the limit's window when nothing is counted
    (a limit on the address the request came from)."""
    wait = retry_in(request, "login_failed", key=key) or longest_window("login_failed")
    return lockout_message(wait)


def page_action(request: HttpRequest) -> tuple[str, str | None]:
    """The rate-limited action and its key for the page of ``request``."""
    match = getattr(request, "resolver_match", None)
    action, field = PAGE_ACTIONS.get(getattr(match, "url_name", "") or "", ("", None))
    key = (request.POST.get(field) or "").strip().lower() if field else None
    return action, key or None


def handler429(request: HttpRequest) -> HttpResponse:
    """The "too many attempts" page (allauth's ``respond_429`` calls the URL
    conf's ``handler429``): what was limited and when to try again."""
    action, key = page_action(request)
    wait = (retry_in(request, action, key=key) or longest_window(action)) if action else 60
    response = render(
        request,
        "429.html",
        {"doing": DOINGS.get(action, "attempts"), "try_again": try_again(wait)},
        status=HTTPStatus.TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(math.ceil(wait))
    patch_cache_control(response, no_store=True)
    return response
