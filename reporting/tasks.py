"""Reporting's tasks: keeping the rollups fresh and reconciled, sending the
digests. Thin, by id, inside the tenant's scope."""

import logging

from django.db.models import Exists, OuterRef
from django_scopes import scopes_disabled

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant
from prm.tenancy.scoping import tenant_scope

from . import digests, rollups
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
