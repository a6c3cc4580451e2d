"""The mail server refuses connections for a while: the request that causes
a mail answers normally, and the mail goes out, once, when the server
accepts again.

A real SMTP server (aiosmtpd) on a port of the test's own, stopped (the
port refuses) and started; Django's SMTP backend talks to it.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from prm.tenancy import outbox, services
from prm.tenancy.models import OutboxMessage
from prm.tenancy.roles import Role
from tests.outage import SmtpServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp(settings):
    server = SmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield server
    finally:
        server.stop()


def mails() -> OutboxMessage:
    with scopes_disabled():
        [message] = OutboxMessage.objects.filter(task=services.SEND_INVITATION)
    return message


def test_a_refused_invitation_mail_goes_out_once_the_server_accepts(acme, smtp):
    client = acme.client(Role.OPS_ADMIN)
    response = client.post("/people/invite/", {"email": "late@example.test", "role": "finance"})
    assert response.status_code == 302  # the invitation is made; its mail waits
    refused = mails()
    assert refused.state == "waiting"
    assert refused.last_error.startswith("ConnectionRefusedError")

    start = timezone.now()
    # Still refused at the next attempt; the wait doubles.
    assert outbox.relay(now=start + timedelta(seconds=31)) == 0
    again = mails()
    assert again.attempts == 2 and again.state == "waiting"
    assert again.due_at - (start + timedelta(seconds=31)) >= timedelta(seconds=59)
    assert smtp.messages == []

    smtp.start()
    assert outbox.relay(now=start + timedelta(seconds=31 + 61)) == 1
    assert mails().state == "done"
    [(recipients, text)] = smtp.messages
    assert recipients == ["late@example.test"]
    assert "/invitations/" in text
    # Nothing more is sent, however often the relay runs.
    assert outbox.relay(now=start + timedelta(hours=3)) == 0
    assert len(smtp.messages) == 1


def test_notification_mails_wait_for_the_server_and_the_portal_has_them_at_once(acme, smtp):
    with acme.scope():
        [note] = services.notify(
            acme.tenant, [acme[Role.FINANCE].user], kind="test", title="Statement ready"
        )
    # Made outside a transaction: the row is committed and handed over at once.
    with scopes_disabled():
        message = OutboxMessage.objects.get(task=services.SEND_NOTIFICATION_EMAIL)
    assert message.last_error.startswith("ConnectionRefusedError")
    with acme.scope():
        note.refresh_from_db()
        assert note.emailed_at is None and note.read_at is None  # in the portal already

    smtp.start()
    assert outbox.relay(now=timezone.now() + timedelta(seconds=31)) == 1
    [(recipients, text)] = smtp.messages
    assert recipients == [acme[Role.FINANCE].user.email]
    assert "Statement ready" in text
    with acme.scope():
        note.refresh_from_db()
        assert note.emailed_at is not None
