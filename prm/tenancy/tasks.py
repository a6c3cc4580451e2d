from django.core.mail import get_connection, send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from prm.celery import TenantTask, app

from . import outbox
from .mail_preferences import wants_mail
from .models import Invitation, Notification, Tenant


def send_one(*, subject: str, message: str, to: str, html: str | None = None) -> None:
    """``send_mail`` to ``to`` (with ``html`` as its HTML alternative, when
    given), saying goodbye to the mail server (QUIT)
    only once the transaction that records the sending has committed.

    The server has the message once it answers its DATA. The goodbye is one
    more round trip, which a slow server can stretch to ``EMAIL_TIMEOUT``; a
    worker killed during it, before the commit, would leave the sending
    unrecorded, and the outbox would send the message again. After the
    commit, the window for a second copy is the commit's few milliseconds.
    (If the transaction rolls back, the connection is dropped without a goodbye.)"""
    connection = get_connection()
    connection.open()
    try:
        send_mail(
            subject=subject,
            message=message,
            from_email=None,
            recipient_list=[to],
            connection=connection,
            html_message=html,
        )
    except BaseException:
        connection.close()
        raise
    transaction.on_commit(connection.close, robust=True)


@app.task(base=TenantTask)
def send_invitation(*, tenant: Tenant, invitation_id: str, token: str) -> bool:
    """Mail an invitation link (deferred through the outbox, which retries
    a refused send with back-off). Sent only while the invitation is still
    open, so a retry after revocation or acceptance sends nothing."""
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
    send_one(
        subject=f"[{tenant.name}] You are invited to the partner portal",
        message=message,
        to=invitation.email,
    )
    return True


@app.task(base=TenantTask)
def send_notification_email(*, tenant: Tenant, notification_id: str) -> bool:
    """Mail a notification once (deferred through the outbox): a retry after
    success sends nothing, and nothing goes to a person who has turned this
    kind's mails off since it was deferred."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update()
            .select_related("user")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if note is None or not note.user.is_active or not wants_mail(note):
            return False
        link = tenant.absolute_url(note.url) if note.url else tenant.absolute_url("/")
        send_one(
            subject=f"[{tenant.name}] {note.title}",
            message=f"{note.body}\n\n{link}\n",
            to=note.user.email,
        )
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
    return True


@app.task
def relay_outbox() -> int:
    """Beat, every few seconds: hand over the outbox rows that are due, and
    delete done rows past their keeping time. Platform-level (all tenants)."""
    handed = outbox.relay()
    outbox.purge_done()
    return handed
