"""Thin tasks: fetch inside the tenant's scope, call a service."""

from dataclasses import asdict
from typing import Any

from django.db.models import Exists, OuterRef
from django_scopes import scopes_disabled

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import agreement_sweeps, plans
from .models import Agreement


@app.task(base=TenantTask)
def sync_partner(*, tenant: Tenant, partner_id: str) -> int:
    """Complete the partner's plan steps whose evidence is in."""
    return len(plans.sync_partner(partner_id))


@app.task(base=TenantTask)
def send_applicant_mail(*, tenant: Tenant, application_id: str, kind: str, token: str = "") -> bool:
    """One mail to an applicant (deferred through the outbox: sent once)."""
    from django.template.loader import render_to_string
    from django.urls import reverse
    from django.utils import timezone

    from prm.tenancy.tasks import send_one

    from .mail import LINKS, SUBJECTS
    from .models import Application

    application = Application.objects.filter(pk=application_id).first()
    if application is None:
        return False
    url = ""
    if kind in LINKS and token:
        url = tenant.absolute_url(reverse(LINKS[kind], args=[token]))
    # The template has the page's address (``url``), never the bare token.
    context = {"tenant": tenant, "application": application, "url": url}
    with timezone.override(tenant.tzinfo):
        message = render_to_string(f"onboarding/mail/{kind}.txt", context)
    send_one(
        subject=f"[{tenant.name}] {SUBJECTS[kind]}",
        message=message,
        to=application.contact_email,
    )
    return True


# --- Beat: application reminders, escalations and expiry (application_deadlines) ---

APPLICATION_SWEEP_EXPIRES = 5 * 60  # a late sweep is dropped: the next does its work


@app.task(base=TenantTask)
def sweep_applications(*, tenant: Tenant) -> dict[str, int]:
    from dataclasses import asdict

    from .application_deadlines import sweep_applications as sweep

    return asdict(sweep(tenant))


@app.task
def dispatch_application_sweeps() -> int:
    """Beat, every minute: one sweep per active tenant with an application
    check or an expiry due. Platform-level: reads across tenants under
    ``scopes_disabled()`` on purpose, only to learn which tenants to sweep."""
    from django.db.models import Exists, OuterRef, Q
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from .models import Application

    now = timezone.now()
    due = Q(next_check_at__lte=now) | Q(status="unconfirmed", confirm_by__lte=now)
    with scopes_disabled():
        rows = Application.objects.filter(due, tenant=OuterRef("pk"))
        tenant_ids = list(
            Tenant.objects.filter(Exists(rows), is_active=True).values_list("pk", flat=True)
        )
    for tenant_id in tenant_ids:
        sweep_applications.apply_async(
            kwargs={"tenant_id": str(tenant_id)}, expires=APPLICATION_SWEEP_EXPIRES
        )
    return len(tenant_ids)


# --- Beat: agreement reminders and expiry warnings (agreement_sweeps) ------------------

AGREEMENT_SWEEP_EXPIRES = 60 * 60


@app.task(base=TenantTask)
def sweep_agreements(*, tenant: Tenant) -> dict[str, Any]:
    """The day's agreement reminders and expiry warnings in one tenant."""
    return asdict(agreement_sweeps.sweep(tenant))


@app.task
def dispatch_agreement_sweeps() -> int:
    """Beat, hourly (dates are local: hourly catches every time zone's
    midnight): one sweep per active tenant with an active agreement.
    Platform-level: it reads across tenants under ``scopes_disabled()`` on
    purpose, only to learn which tenants to dispatch."""
    with scopes_disabled():
        active = Agreement.objects.filter(tenant=OuterRef("pk"), is_active=True)
        tenant_ids = list(
            Tenant.objects.filter(Exists(active), is_active=True).values_list("pk", flat=True)
        )
    for tenant_id in tenant_ids:
        sweep_agreements.apply_async(
            kwargs={"tenant_id": str(tenant_id)}, expires=AGREEMENT_SWEEP_EXPIRES
        )
    return len(tenant_ids)
