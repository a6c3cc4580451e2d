"""ETags of single objects: a hash of the object's representation.

``GET`` answers ``ETag``, and 304 with no body when ``If-None-Match``
names it. A change (PATCH, PUT, DELETE or an action's POST) that sends
``If-Match`` is refused with 412 when the object has changed since."""

import hashlib
import json
from typing import Any

from rest_framework.utils.encoders import JSONEncoder


def etag_of(data: Any) -> str:
    body = json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def listed(header: str) -> set[str]:
    """The tags a conditional header names (weak ones compared as strong)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
