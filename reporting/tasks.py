"""Reporting's Celery tasks: the nightly partner health run per tenant, and
a backfill of past days."""

from dataclasses import asdict
from typing import Any

from django.utils import timezone
from django_scopes import scopes_disabled

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import health

# The local hour at which a tenant's health is computed (its night).
NIGHT_HOUR = 2
DISPATCH_EXPIRES = 60 * 60


@app.task(base=TenantTask, acks_late=True)
def compute_health(*, tenant: Tenant) -> list[dict[str, Any]]:
    """Yesterday's scores and at-risk episodes in one tenant (and any day
    of the week before that was missed). Safe to run again."""
    return [asdict(run) for run in health.nightly(tenant)]


@app.task(base=TenantTask, acks_late=True)
def backfill_health(*, tenant: Tenant, days: int) -> int:
    """The history of the ``days`` days before today, from the data as it
    stood on each (demo, benchmark); notifies nobody."""
    return len(health.backfill_health(tenant, days))


def night_tenants(now: Any = None) -> list[str]:
    """The active tenants whose local time is in their health hour."""
    now = now or timezone.now()
    with scopes_disabled():
        tenants = list(Tenant.objects.filter(is_active=True))
    return [str(t.pk) for t in tenants if t.local_now(now).hour == NIGHT_HOUR]


@app.task
def dispatch_health() -> int:
    """Beat, hourly: one health run per tenant in its night.

    A platform-level job: it lists tenants (``Tenant`` is not scoped;
    ``scopes_disabled()`` marks the cross-tenant read as deliberate); the
    work runs per tenant inside its scope (``TenantTask``).
    """
    tenant_ids = night_tenants()
    for tenant_id in tenant_ids:
        compute_health.apply_async(kwargs={"tenant_id": tenant_id}, expires=DISPATCH_EXPIRES)
    return len(tenant_ids)
