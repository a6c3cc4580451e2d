"""``Idempotency-Key`` on POST: a retried create returns the first result.

The request and its record are one transaction (``TenantViewSet.dispatch``
opens it): the first request inserts the record, does its work and stores
its response before committing; a second request with the same key waits on
the record's unique index until the first commits, then replays what it
stored (``Idempotent-Replayed: true``). A request that failed stored nothing
and can be retried with its key. The same key with another request (method,
path or body) is refused with 422. Records are kept 24 hours."""

import hashlib
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions

from .models import IdempotentRequest
from .throttling import caller_of

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
MAX_LENGTH = 255


class Replay(Exception):
    def __init__(self, record: IdempotentRequest) -> None:
        self.record = record


class KeyReused(exceptions.APIException):
    status_code = 422
    default_detail = (
        "This Idempotency-Key was used with another request; use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


def fingerprint(request: Any) -> str:
    """A hash of the request: method, path and body. A multipart upload
    (claim proofs, up to 10 MB) is hashed from its parsed fields and each
    file's content, since its raw body is not kept in memory."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    if request.content_type.startswith("multipart/"):
        for name in sorted(request.data.keys()):
            for value in request.data.getlist(name):
                digest.update(f"{name}=".encode())
                if hasattr(value, "chunks"):
                    for chunk in value.chunks():
                        digest.update(chunk)
                    value.seek(0)
                else:
                    digest.update(str(value).encode())
                digest.update(b"\n")
    else:
        digest.update(request._request.body)
    return digest.hexdigest()


def begin(request: Any) -> IdempotentRequest | None:
    """The new record of this request, or None without a key. Raises
    ``Replay`` with the first request's record, or ``KeyReused``."""
    key = request.headers.get(HEADER, "").strip()
    if request.method != "POST" or not key:
        return None
    if len(key) > MAX_LENGTH:
        raise exceptions.ValidationError({HEADER: [f"At most {MAX_LENGTH} characters."]})
    tenant = request._request.tenant
    caller = caller_of(request)
    print_ = fingerprint(request)
    since = timezone.now() - KEEP
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(
                tenant=tenant, caller=caller, key=key, fingerprint=print_
            )
    except IntegrityError:
        first = IdempotentRequest.objects.get(tenant=tenant, caller=caller, key=key)
    if first.created_at < since:  # an expired key, not purged yet: start afresh
        first.delete()
        return begin(request)
    if first.fingerprint != print_:
        raise KeyReused()
    raise Replay(first)


def purge(now: Any = None) -> int:
    now = now or timezone.now()
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=now - KEEP).delete()
    return deleted
