"""A rate limit per API key (or per signed-in member for the pages' own
calls), counted in Redis: ``API_RATE_LIMIT`` requests per ``API_RATE_WINDOW``
seconds, a fixed window. Past it: 429 with ``Retry-After``. Every answer
carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``.

If Redis cannot be reached the request is let through (and logged): the
limit protects the service, it must not take it down."""

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

log = logging.getLogger(__name__)


def caller_of(request: Any) -> str:
    key = getattr(request, "api_key", None)
    if key is not None:
        return f"key:{key.pk}"
    return f"user:{request.user.pk}"


class PerKeyRate(BaseThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        if not request.user.is_authenticated:
            return True  # answered 401 by the permission check
        limit = settings.API_RATE_LIMIT
        window = settings.API_RATE_WINDOW
        now = time.time()
        start = int(now // window) * window
        name = f"api-rate:{request._request.tenant.pk}:{caller_of(request)}:{start}"
        try:
            count = 1 if cache.add(name, 1, timeout=window + 1) else cache.incr(name)
        except Exception as exc:  # Redis down: let it through
            log.warning("API rate limit not counted (%s)", exc)
            return True
        self.reset = start + window
        self.wait_for = max(1, int(self.reset - now + 0.999))
        request._request.rate_limit = (limit, max(limit - count, 0), int(self.reset))
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "wait_for", None)
