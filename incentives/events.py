"""Webhook events of many objects at once (a period's statements, the
claims a payout run paid): one event per object, and nothing more than one
look for endpoints when no endpoint wants the type."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from prm.tenancy.models import Tenant
from prm.webhooks.events import emit

T = TypeVar("T")


def emit_each(
    tenant: Tenant, type: str, objects: Iterable[T], represent: Callable[[T], Mapping[str, Any]]
) -> int:
    """Emit ``type`` about each of ``objects`` (its payload ``represent(obj)``)
    inside the caller's transaction. When the first event is not stored, no
    endpoint of the tenant wants ``type`` (``emit`` stores only what some
    endpoint wants), so the rest are not represented or looked up at all.
    Returns how many events were stored."""
    stored = 0
    for obj in objects:
        event = emit(tenant, type, represent(obj))
        if event._state.adding:
            break
        stored += 1
    return stored
