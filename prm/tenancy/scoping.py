"""Entering a tenant's scope: the only ways code reaches tenant-owned rows."""

from collections.abc import Iterator
from contextlib import contextmanager

from django_scopes import scope

from .models import Tenant


@contextmanager
def tenant_scope(tenant: Tenant) -> Iterator[Tenant]:
    """Run a block inside ``tenant``'s scope.

    django-scopes treats ``scope(tenant=None)`` as "no filter", so a missing
    tenant is refused here rather than silently widening every query.
    """
    if not isinstance(tenant, Tenant):
        raise ValueError(f"tenant_scope needs a Tenant, got {tenant!r}")
    with scope(tenant=tenant):
        yield tenant
