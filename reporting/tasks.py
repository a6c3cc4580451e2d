"""Reporting's tasks: keeping the rollups fresh and reconciled."""

from django.db.models import Exists, OuterRef
from django_scopes import scopes_disabled

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import rollups
from .models import StalePartner

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
