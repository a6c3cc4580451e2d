from typing import Any

from celery import Task
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from prm.celery import TenantTask, app

from .models import Invitation, Tenant


@app.task(base=TenantTask, bind=True, max_retries=5, default_retry_delay=60)
def send_invitation(
    self: Task[Any, Any], *, tenant: Tenant, invitation_id: str, token: str
) -> bool:
    """Mail an invitation link. Sent only while the invitation is still open,
    so a retry after revocation or acceptance sends nothing."""
    invitation = (
        Invitation.objects.select_related("invited_by", "partner").filter(pk=invitation_id).first()
    )
    if invitation is None or invitation.status() != "open":
        return False
    context = {
        "tenant": tenant,
        "invitation": invitation,
        "url": tenant.absolute_url(reverse("accept_invitation", args=[token])),
    }
    with timezone.override(tenant.tzinfo):  # dates as the tenant's people read them
        message = render_to_string("tenancy/email/invitation.txt", context)
    try:
        send_mail(
            subject=f"[{tenant.name}] You are invited to the partner portal",
            message=message,
            from_email=None,
            recipient_list=[invitation.email],
        )
    except OSError as exc:  # SMTP down: try again later
        raise self.retry(exc=exc) from exc
    return True


@app.task(base=TenantTask, bind=True, max_retries=5, default_retry_delay=60)
def send_notification_email(self: Task[Any, Any], *, tenant: Tenant, notification_id: str) -> bool:
    """Mail a notification once: a retry after success sends nothing."""
    from django.db import transaction
    from django.utils import timezone

    from .models import Notification

    with transaction.atomic():
        note = (
            Notification.objects.select_for_update()
            .select_related("user")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if note is None or not note.user.is_active:
            return False
        link = tenant.absolute_url(note.url) if note.url else tenant.absolute_url("/")
        try:
            send_mail(
                subject=f"[{tenant.name}] {note.title}",
                message=f"{note.body}\n\n{link}\n",
                from_email=None,
                recipient_list=[note.user.email],
            )
        except OSError as exc:
            raise self.retry(exc=exc) from exc
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
    return True
