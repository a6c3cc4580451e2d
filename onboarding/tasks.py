"""Thin tasks: fetch inside the tenant's scope, call a service."""

from prm.celery import TenantTask, app
from prm.tenancy.models import Tenant

from . import plans


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
