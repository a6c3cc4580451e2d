"""The webhooks subsystem's declaration: ops' permissions on endpoints and
the delivery log, its own event (the test event ops send to try an
endpoint), the notification ops get when an endpoint is disabled, and the
beat entries that send due retries and purge the old log."""

from celery.schedules import crontab

from prm.tenancy.declarations import Card, NotificationKind, PRMApp, WebhookEvent
from prm.tenancy.roles import OPS

APP = PRMApp(
    label="webhooks",
    permissions={
        "webhooks.view_webhookendpoint": OPS,
        "webhooks.add_webhookendpoint": OPS,
        "webhooks.change_webhookendpoint": OPS,
        "webhooks.delete_webhookendpoint": OPS,
        "webhooks.view_webhookdelivery": OPS,
        # Send a delivery again.
        "webhooks.change_webhookdelivery": OPS,
    },
    cards=(
        Card(
            key="webhooks.endpoints",
            title="Webhooks",
            url_name="tenant_admin:webhooks_webhookendpoint_changelist",
            perms=("webhooks.view_webhookendpoint",),
            description="Send the program's events to your own systems, signed.",
            setup=True,
            order=920,
        ),
    ),
    webhook_events=(WebhookEvent("webhooks.ping", "A test event ops sent to try the endpoint"),),
    notification_kinds=(
        NotificationKind(
            "webhooks.endpoint_disabled",
            "A webhook endpoint was disabled after 3 days of failures",
            OPS,
        ),
    ),
    beat={
        # Due retries (and deliveries the commit's hand-over lost).
        "webhooks-sweep": {
            "task": "webhooks.sweep",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        "webhooks-purge": {
            "task": "webhooks.purge",
            "schedule": crontab(hour=3, minute=20),
            "options": {"expires": 3600},
        },
    },
    url_matrix="prm.webhooks.url_matrix",
)
