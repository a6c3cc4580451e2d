"""Thin tasks: fetch inside the tenant's scope, call a service."""

from dataclasses import asdict
from typing import Any

from django.db.models import Exists, OuterRef
from django_scopes import scopes_disabled

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import evaluation, sweeps
from .models import CriteriaVersion


@app.task(base=TenantTask)
def sweep_tiers(*, tenant: Tenant) -> dict[str, Any]:
    """One tenant's daily tier round (holds ending, the scheduled review,
    grace periods ending)."""
    return asdict(sweeps.sweep(tenant))


@app.task(base=TenantTask)
def check_upgrade(*, tenant: Tenant, partner_id: str) -> bool:
    """A partner's figures rose: move it up if it now qualifies (a kick;
    the next review catches what a lost kick misses)."""
    return evaluation.upgrade_check(tenant, partner_id)


CHECK_UPGRADE = "program.tasks.check_upgrade"


@app.task
def dispatch_tier_sweeps() -> int:
    """Beat, hourly (dates are the tenants' own: hourly catches every time
    zone's midnight; a sweep does a day's work once): tenants with
    published tier criteria. Platform-level: it reads across tenants only
    to learn which have criteria, and queues one sweep each."""
    with scopes_disabled():
        live = CriteriaVersion.objects.filter(
            tenant=OuterRef("pk"), status=CriteriaVersion.Status.PUBLISHED
        )
        tenant_ids = list(
            Tenant.objects.filter(Exists(live), is_active=True).values_list("pk", flat=True)
        )
    for tenant_id in tenant_ids:
        sweep_tiers.apply_async(kwargs={"tenant_id": str(tenant_id)}, expires=60 * 60)
    return len(tenant_ids)


BEAT = {
    "program-tiers": {"task": "program.tasks.dispatch_tier_sweeps", "schedule": 3600.0},
}


# Compliance reviews' tasks live in their own module; importing it here
# registers them with Celery (which imports each app's ``tasks``).
from . import compliance_tasks as compliance_tasks  # noqa: E402
