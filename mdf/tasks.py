"""Thin tasks: ids in, the tenant's scope around the service call."""

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django_scopes import scopes_disabled

from dealreg.models import DealRegistration
from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import funds, requests
from .models import FundType

FUNDS_SWEEP_EXPIRES = 60 * 60


@app.task(base=TenantTask, acks_late=True)
def sync_coop(*, tenant: Tenant, registration_id: str) -> int:
    registration = DealRegistration.objects.filter(pk=registration_id).first()
    if registration is None:
        return 0
    return len(funds.sync_coop(registration))


@app.task(base=TenantTask)
def sweep_funds(*, tenant: Tenant) -> dict[str, Any]:
    """By the tenant's local date: unclaimed reservations released when
    their claim windows close, unused funds expired at the period's end,
    and co-op accruals of the last days' outcomes re-synced (what a lost
    kick missed)."""
    now = timezone.now()
    released = requests.release_unclaimed(tenant, now=now)
    expired = funds.expire(tenant, now=now)
    synced = 0
    if FundType.objects.filter(funding=FundType.Funding.ACCRUAL, active=True).exists():
        recent = DealRegistration.objects.filter(
            outcome_recorded_at__gte=now - timedelta(days=3)
        ).only("pk", "tenant_id")
        for registration in recent:
            synced += len(funds.sync_coop(registration, now=now))
    return {"released": len(released), "expired": len(expired), "accruals": synced}


@app.task
def dispatch_funds_sweeps() -> int:
    """Beat, hourly: one funds sweep per active tenant (dates are local, so
    hourly catches every time zone's midnight). Platform-level: it only
    lists tenants."""
    with scopes_disabled():
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        sweep_funds.apply_async(kwargs={"tenant_id": str(tenant_id)}, expires=FUNDS_SWEEP_EXPIRES)
    return len(tenant_ids)
