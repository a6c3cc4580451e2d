"""Background work of incentives: accruals after a deal's outcome changes,
the safety-net sweep, rebates and statements after a period ends, payout
runs."""

import logging

from django.db.models import Exists, OuterRef
from django.urls import reverse
from django_scopes import scopes_disabled

from dealreg.models import DealRegistration
from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant
from prm.tenancy.roles import Role
from prm.tenancy.services import notify, staff_with_role

from . import ledger
from .models import DealAccrualState

log = logging.getLogger(__name__)


@app.task(base=TenantTask, acks_late=True)
def sync_deal(*, tenant: Tenant, registration_id: str) -> int:
    """Bring a registration's ledger entries in line with its outcome.
    Safe to run twice or concurrently (see ``ledger.sync_deal``)."""
    registration = (
        DealRegistration.objects.select_related("partner", "tenant")
        .filter(pk=registration_id)
        .first()
    )
    if registration is None:
        return 0
    try:
        return len(ledger.sync_deal(registration, via="task:sync_deal"))
    except ledger.NoRate as problem:
        ledger.record_problem(registration, str(problem))
        notify(
            tenant,
            list(staff_with_role(Role.FINANCE)),
            kind="incentives.no_rate",
            title=f"{registration.code}: accrual waiting for an exchange rate",
            body=str(problem),
            url=reverse("tenant_admin:incentives_exchangerate_changelist"),
            about=registration,
            task=ledger.ADD_RATE,
        )
        return 0


@app.task(base=TenantTask)
def sweep_deals(*, tenant: Tenant, limit: int = 2000) -> int:
    """Safety net: sync registrations whose outcome changed since their last
    sync (a lost task, a missing rate added since)."""
    done = 0
    for registration in ledger.registrations_to_sync(tenant).select_related("partner", "tenant")[
        :limit
    ]:
        try:
            ledger.sync_deal(registration, via="task:sweep_deals")
        except ledger.NoRate as problem:
            ledger.record_problem(registration, str(problem))
        done += 1
    return done


@app.task
def dispatch_sweeps() -> int:
    """Beat: a sweep per tenant with registrations to sync."""
    with scopes_disabled():
        state = DealAccrualState.objects.filter(registration=OuterRef("pk"))
        tenants = list(
            Tenant.objects.filter(is_active=True)
            .filter(
                Exists(
                    DealRegistration.objects.filter(
                        tenant=OuterRef("pk"), won_amount__isnull=False
                    ).exclude(Exists(state.filter(synced_at__gte=OuterRef("updated_at"))))
                )
            )
            .values_list("pk", flat=True)
        )
    for tenant_id in tenants:
        sweep_deals.delay(tenant_id=str(tenant_id))
    return len(tenants)


# Tasks of the other areas live in their own modules; importing them here
# registers them with Celery's autodiscovery.
from .payout_tasks import *  # noqa: E402, F403
from .statement_tasks import *  # noqa: E402, F403
