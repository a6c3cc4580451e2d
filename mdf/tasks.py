"""Thin tasks: ids in, the tenant's scope around the service call."""

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_scopes import scopes_disabled

from dealreg.models import DealRegistration
from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import coop, deadlines
from .models import Claim, FundRequest, FundType

FUNDS_SWEEP_EXPIRES = 60 * 60


@app.task(base=TenantTask, acks_late=True)
def sync_coop(*, tenant: Tenant, registration_id: str) -> int:
    registration = DealRegistration.objects.filter(pk=registration_id).first()
    if registration is None:
        return 0
    return len(coop.sync_coop(registration))


@app.task(base=TenantTask)
def sweep_funds(*, tenant: Tenant) -> dict[str, Any]:
    """By the tenant's local date: claim window and expiry warnings,
    unclaimed reservations released when their claim windows close, unused
    funds expired at the period's end (``deadlines.sweep_dates``), and co-op
    accruals of the last days' outcomes re-synced (what a lost kick missed)."""
    now = timezone.now()
    dates = deadlines.sweep_dates(tenant, now=now)
    synced = 0
    if FundType.objects.filter(funding=FundType.Funding.ACCRUAL, active=True).exists():
        recent = DealRegistration.objects.filter(
            outcome_recorded_at__gte=now - timedelta(days=3)
        ).only("pk", "tenant_id")
        for registration in recent:
            synced += len(coop.sync_coop(registration, now=now))
    return {**asdict(dates), "accruals": synced}


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


# --- Beat: decision reminders and escalations -----------------------------------------

# A sweep that waited longer than its period is dropped: the next one does
# the same work (sweeps are idempotent).
DECISION_SWEEP_EXPIRES = 5 * 60


@app.task(base=TenantTask)
def sweep_decisions(*, tenant: Tenant) -> dict[str, Any]:
    """Reminders and escalations of fund requests and claims due in one tenant."""
    return asdict(deadlines.sweep_decisions(tenant))


@app.task
def dispatch_decision_sweeps() -> int:
    """Beat, every minute: one decision sweep per active tenant with a fund
    request or claim whose next check has come. Platform-level: it reads
    across tenants under ``scopes_disabled()`` on purpose, only to learn
    which tenants to dispatch (EXISTS probes of the partial
    ``next_check_at`` indexes); the work runs in each tenant's scope."""
    now = timezone.now()
    with scopes_disabled():
        due_requests = FundRequest.objects.filter(tenant=OuterRef("pk"), next_check_at__lte=now)
        due_claims = Claim.objects.filter(tenant=OuterRef("pk"), next_check_at__lte=now)
        tenant_ids = list(
            Tenant.objects.filter(is_active=True)
            .filter(Exists(due_requests) | Exists(due_claims))
            .values_list("pk", flat=True)
        )
    for tenant_id in tenant_ids:
        sweep_decisions.apply_async(
            kwargs={"tenant_id": str(tenant_id)}, expires=DECISION_SWEEP_EXPIRES
        )
    return len(tenant_ids)
