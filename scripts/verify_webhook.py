"""Verify a webhook from the partner program (receiver's side).

Copy this function into the receiver (standard library only). Pass the raw
request body, as bytes and before any JSON parsing, the ``PRM-Signature``
header and the endpoint's secret (``whsec_...``)::

    event = verify(request.body, request.headers["PRM-Signature"], SECRET)

It raises ``InvalidSignature`` when no signature in the header matches
(compared in constant time) or when the timestamp is more than five minutes
from now (a replayed request), and returns the event otherwise. Delivery is
at least once: keep the ids of the events handled (``event["id"]``, also in
the ``PRM-Event-Id`` header) and drop one seen before.
"""

import hashlib
import hmac
import json
import time
from typing import Any

TOLERANCE = 300  # seconds


class InvalidSignature(Exception):
    pass


def verify(
    payload: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("The signature header has no timestamp or no v1 signature.")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise InvalidSignature("The timestamp is too old (or in the future): a replay?")
    signed = str(timestamp).encode() + b"." + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise InvalidSignature("No signature matches the payload with this secret.")
    return json.loads(payload)
