"""Signing a webhook request, as Stripe does.

``PRM-Signature: t=<unix time>,v1=<hex>``, where the hex is
HMAC-SHA256(secret, "<t>.<body>"): the receiver recomputes it with the
endpoint's secret, compares in constant time and refuses an old timestamp
(a replayed request). While a rolled secret's predecessor is still valid,
the header carries one ``v1`` per secret, so receivers can switch over
without missing a request. ``scripts/verify_webhook.py`` is the receiver's
side.
"""

import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_HEADER = "PRM-Signature"
EVENT_ID_HEADER = "PRM-Event-Id"
EVENT_TYPE_HEADER = "PRM-Event-Type"
USER_AGENT = "PRM-Webhooks/1.0"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    signed = ",".join(f"v1={signature(secret, timestamp, body)}" for secret in secrets)
    return f"t={timestamp},{signed}"


def headers(
    *, event_id: str, event_type: str, secrets: Iterable[str], timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one request (the body is the event's envelope)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        SIGNATURE_HEADER: signature_header(secrets, timestamp, body),
    }
