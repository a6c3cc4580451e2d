from dataclasses import asdict
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_scopes import scopes_disabled

from prm import format as fmt
from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant
from prm.tenancy.services import notify

from . import events, sla
from .conflicts import find_conflicts
from .models import Conflict, DealRegistration, RegistrationEvent
from .workflow import DECIDE, admin_change_url, serialize_decisions


@app.task(base=TenantTask, acks_late=True)
def check_conflicts(*, tenant: Tenant, registration_id: str) -> int:
    """Run the conflict check of a submitted registration and tell the
    approver what it found. Safe to run again: results are recomputed, and
    ``conflict.found`` is sent for what the previous check had not found."""
    registration = (
        DealRegistration.objects.select_related("partner", "approver", "tenant")
        .filter(pk=registration_id)
        .first()
    )
    if registration is None or registration.status not in DealRegistration.ACTIVE:
        return 0
    with transaction.atomic():
        return _check_conflicts(tenant, registration)


def _check_conflicts(tenant: Tenant, registration: DealRegistration) -> int:
    # What the last check stored, read under the lock the check takes (it
    # is re-entrant): a check running at once cannot slip in between.
    serialize_decisions(tenant)
    known = set(
        Conflict.objects.filter(registration=registration).values_list(
            "other_registration_id", "direct_opportunity_id"
        )
    )
    found = find_conflicts(registration)
    events.conflicts_found(
        tenant,
        [c for c in found if (c.other_registration_id, c.direct_opportunity_id) not in known],
    )
    if found:
        already = RegistrationEvent.objects.filter(
            registration=registration,
            kind=RegistrationEvent.Kind.CONFLICTS_FOUND,
            data__count=len(found),
        ).exists()
        if not already:
            RegistrationEvent.objects.create(
                tenant=tenant,
                registration=registration,
                kind=RegistrationEvent.Kind.CONFLICTS_FOUND,
                visible_to_partner=False,
                data={"count": len(found), "reasons": [c.reasons for c in found][:10]},
            )
            notify(
                tenant,
                [registration.approver],
                kind="dealreg.conflicts",
                title=f"{registration.code}: {fmt.plural(len(found), 'possible conflict')}",
                body="; ".join(", ".join(c.reasons) for c in found[:5]),
                url=admin_change_url(registration),
                about=registration,
                task=DECIDE,
            )
    return len(found)


# --- Beat: the SLA clock and protection periods --------------------------------------

# A sweep that waited longer than its period is dropped: the next one does
# the same work (sweeps are idempotent), so a backlog of them is pointless.
SLA_SWEEP_EXPIRES = 5 * 60
PROTECTION_SWEEP_EXPIRES = 60 * 60


@app.task(base=TenantTask)
def sweep_sla(*, tenant: Tenant) -> dict[str, Any]:
    """Reminders, escalations and automatic approvals due in one tenant."""
    return asdict(sla.sweep(tenant))


@app.task(base=TenantTask)
def sweep_protection(*, tenant: Tenant) -> dict[str, Any]:
    """Expiry warnings and expiries due in one tenant (by its local date)."""
    return asdict(sla.sweep_protection(tenant))


@app.task
def dispatch_sla_sweeps() -> int:
    """Beat, every minute: one SLA sweep per active tenant that has a
    registration whose next check has come.

    A platform-level job: it lists tenants across the whole installation, so
    it reads registrations under ``scopes_disabled()`` on purpose, and only
    to learn which tenants to dispatch (an EXISTS probe of each tenant's
    partial ``sla_next_check_at`` index). The work itself runs per tenant,
    inside that tenant's scope (``TenantTask``).
    """
    now = timezone.now()
    with scopes_disabled():
        due = DealRegistration.objects.filter(tenant=OuterRef("pk"), sla_next_check_at__lte=now)
        tenant_ids = list(
            Tenant.objects.filter(is_active=True).filter(Exists(due)).values_list("pk", flat=True)
        )
    for tenant_id in tenant_ids:
        sweep_sla.apply_async(kwargs={"tenant_id": str(tenant_id)}, expires=SLA_SWEEP_EXPIRES)
    return len(tenant_ids)


@app.task
def dispatch_protection_sweeps() -> int:
    """Beat, every hour: one protection sweep per active tenant.

    Protection ends by date, in each tenant's time zone, so the work changes
    only when a tenant's local day does; hourly catches every time zone's
    midnight (including half-hour offsets) within the hour, at a 60th of
    the cost of running every minute. Platform-level like
    ``dispatch_sla_sweeps``: it only lists tenants (``Tenant`` is not scoped;
    ``scopes_disabled()`` marks the cross-tenant read as deliberate).
    """
    with scopes_disabled():
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        sweep_protection.apply_async(
            kwargs={"tenant_id": str(tenant_id)}, expires=PROTECTION_SWEEP_EXPIRES
        )
    return len(tenant_ids)
