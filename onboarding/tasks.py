"""Thin tasks: fetch inside the tenant's scope, call a service."""

from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from celery import Task
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django_scopes import scopes_disabled

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import agreement_sweeps, application_deadlines, plan_sweeps, plans, training_sweeps
from .models import Agreement, Application, Plan, TrainingRecord


@app.task(base=TenantTask)
def sync_partner(*, tenant: Tenant, partner_id: str) -> int:
    """Complete the partner's plan steps whose evidence is in."""
    return len(plans.sync_partner(partner_id))


@app.task(base=TenantTask)
def send_applicant_mail(*, tenant: Tenant, application_id: str, kind: str, token: str = "") -> bool:
    """One mail to an applicant (deferred through the outbox: sent once)."""
    from django.template.loader import render_to_string
    from django.urls import reverse

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


# --- Beat: the sweeps ------------------------------------------------------------------
#
# Each dispatcher is platform-level: it reads across tenants under
# ``scopes_disabled()`` on purpose, only to learn which tenants have work
# due, and queues one sweep per such tenant, which runs in its scope. A
# sweep that waited longer than its period is dropped (``expires``): the
# next does the same work (sweeps are idempotent).


def _dispatch(rows: Callable[[], QuerySet[Any]], sweep: Task, expires: int) -> int:
    """Queue ``sweep`` for every active tenant with one of ``rows()`` (a
    queryset correlated to the tenant with ``OuterRef("pk")``)."""
    with scopes_disabled():
        tenant_ids = list(
            Tenant.objects.filter(Exists(rows()), is_active=True).values_list("pk", flat=True)
        )
    for tenant_id in tenant_ids:
        sweep.apply_async(kwargs={"tenant_id": str(tenant_id)}, expires=expires)
    return len(tenant_ids)


@app.task(base=TenantTask)
def sweep_applications(*, tenant: Tenant) -> dict[str, int]:
    """Application reminders, escalations and expiry in one tenant."""
    return asdict(application_deadlines.sweep_applications(tenant))


@app.task
def dispatch_application_sweeps() -> int:
    """Beat, every minute: tenants with an application check or expiry due."""
    now = timezone.now()
    due = Q(next_check_at__lte=now) | Q(status=Application.Status.UNCONFIRMED, confirm_by__lte=now)
    return _dispatch(
        lambda: Application.objects.filter(due, tenant=OuterRef("pk")), sweep_applications, 5 * 60
    )


@app.task(base=TenantTask)
def sweep_agreements(*, tenant: Tenant) -> dict[str, Any]:
    """The day's agreement reminders and expiry warnings in one tenant."""
    return asdict(agreement_sweeps.sweep(tenant))


@app.task
def dispatch_agreement_sweeps() -> int:
    """Beat, hourly (dates are local: hourly catches every time zone's
    midnight): tenants with an active agreement."""
    return _dispatch(
        lambda: Agreement.objects.filter(tenant=OuterRef("pk"), is_active=True),
        sweep_agreements,
        60 * 60,
    )


@app.task(base=TenantTask)
def sweep_plans(*, tenant: Tenant) -> dict[str, int]:
    """One tenant's plan reconcile, reminders and escalations."""
    return asdict(plan_sweeps.sweep(tenant))


@app.task
def dispatch_plan_sweeps() -> int:
    """Beat, hourly: tenants with a plan in progress."""
    return _dispatch(
        lambda: Plan.objects.filter(tenant=OuterRef("pk"), status=Plan.Status.ACTIVE),
        sweep_plans,
        60 * 60,
    )


@app.task(base=TenantTask)
def sweep_training(*, tenant: Tenant) -> dict[str, int]:
    """One tenant's certification expiry reminders."""
    return asdict(training_sweeps.sweep(tenant))


@app.task
def dispatch_training_sweeps() -> int:
    """Beat, hourly: tenants with a confirmed certification expiring within
    60 days (a day either side: each tenant's own date decides)."""
    today = timezone.now().date()
    return _dispatch(
        lambda: TrainingRecord.objects.filter(
            tenant=OuterRef("pk"),
            certification__isnull=False,
            status=TrainingRecord.Status.CONFIRMED,
            expires_on__gte=today,
            expires_on__lte=today + timedelta(days=training_sweeps.HORIZON + 1),
        ),
        sweep_training,
        60 * 60,
    )
