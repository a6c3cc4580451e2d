"""Thin tasks of compliance reviews: the daily round per tenant, and the
beat entry that queues them (imported by ``program.tasks`` so Celery
finds them)."""

from dataclasses import asdict
from typing import Any

from django_scopes import scopes_disabled

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import compliance_sweeps
from .models import ComplianceSettings


@app.task(base=TenantTask)
def sweep_compliance(*, tenant: Tenant) -> dict[str, Any]:
    """One tenant's daily round: open reviews, remind, escalate."""
    return asdict(compliance_sweeps.sweep(tenant))


@app.task
def dispatch_compliance_sweeps() -> int:
    """Beat, hourly: the tenants running compliance reviews. Platform-level:
    it reads across tenants only to learn which do, and queues one round
    each."""
    with scopes_disabled():
        tenant_ids = list(
            ComplianceSettings.objects.filter(enabled=True, tenant__is_active=True).values_list(
                "tenant_id", flat=True
            )
        )
    for tenant_id in tenant_ids:
        sweep_compliance.apply_async(kwargs={"tenant_id": str(tenant_id)}, expires=60 * 60)
    return len(tenant_ids)


BEAT = {
    "program-compliance": {
        "task": "program.compliance_tasks.dispatch_compliance_sweeps",
        "schedule": 3600.0,
    },
}
