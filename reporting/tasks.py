"""Reporting's tasks: keeping the rollups fresh and reconciled, the nightly
partner health run per tenant and a backfill of past days, sending the
digests. Thin, by id, inside the tenant's scope."""

import logging
from dataclasses import asdict
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_scopes import scopes_disabled

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant
from prm.tenancy.scoping import tenant_scope

from . import digests, health, rollups
from .models import StalePartner

log = logging.getLogger(__name__)

# A refresh that waited longer than this is dropped: the next beat does it.
REFRESH_EXPIRES = 120
RECONCILE_EXPIRES = 6 * 3600


@app.task(base=TenantTask, acks_late=True)
def refresh_stale(*, tenant: Tenant) -> int:
    """Recompute the partners whose data changed (``rollups.mark_stale``),
    until none is left. Safe to run twice at once: each takes other rows."""
    done = 0
    while True:
        taken = rollups.refresh_stale(tenant)
        done += taken
        if not taken:
            return done


@app.task
def dispatch_refreshes() -> int:
    """Beat, every minute: a refresh for each tenant with stale partners
    (what a kick after commit missed: the broker was down). Platform-level:
    it only lists tenants, under ``scopes_disabled()`` on purpose."""
    with scopes_disabled():
        tenant_ids = list(
            Tenant.objects.filter(is_active=True)
            .filter(Exists(StalePartner.objects.filter(tenant_id=OuterRef("pk"))))
            .values_list("pk", flat=True)
        )
    for tenant_id in tenant_ids:
        refresh_stale.apply_async(kwargs={"tenant_id": str(tenant_id)}, expires=REFRESH_EXPIRES)
    return len(tenant_ids)


@app.task(base=TenantTask, acks_late=True)
def reconcile(*, tenant: Tenant) -> int:
    """Recompute the recent days, correct and record any drift."""
    return len(rollups.reconcile(tenant))


@app.task
def dispatch_reconciliations() -> int:
    """Beat, nightly: one reconciliation per active tenant."""
    with scopes_disabled():
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        reconcile.apply_async(kwargs={"tenant_id": str(tenant_id)}, expires=RECONCILE_EXPIRES)
    return len(tenant_ids)


@app.task
def send_due_digests() -> int:
    """Beat (hourly): claim and queue the digests due in every active
    tenant (each mailed by ``send_digest`` through the outbox). A tenant
    that fails is logged and the others go on; the next hour tries again.
    Platform-level: it enters each tenant's scope in turn."""
    queued = 0
    for tenant in Tenant.objects.filter(is_active=True).order_by("pk"):
        try:
            with tenant_scope(tenant):
                queued += digests.queue_due(tenant)
        except Exception:
            log.exception("Digests of tenant %s could not be queued", tenant.slug)
    return queued


@app.task(base=TenantTask)
def send_digest(*, tenant: Tenant, digest_id: str) -> bool:
    """Mail one claimed digest (deferred through the outbox): once."""
    return digests.send(digest_id)


# --- Partner health ----------------------------------------------------------------

# The local hour at which a tenant's health is computed (its night).
NIGHT_HOUR = 2
DISPATCH_EXPIRES = 60 * 60


@app.task(base=TenantTask, acks_late=True)
def compute_health(*, tenant: Tenant) -> list[dict[str, Any]]:
    """Yesterday's scores and at-risk episodes in one tenant (and any day
    of the week before that was missed). Safe to run again."""
    return [{**asdict(run), "day": run.day.isoformat()} for run in health.nightly(tenant)]


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
