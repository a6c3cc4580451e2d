"""Thin tasks: fetch inside the tenant's scope, call a service."""

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import plans


@app.task(base=TenantTask)
def sync_partner(*, tenant: Tenant, partner_id: str) -> int:
    """Complete the partner's plan steps whose evidence is in."""
    return len(plans.sync_partner(partner_id))
