"""The webhooks subsystem's declaration: its own event (the test event ops
send to try an endpoint)."""

from prm.tenancy.declarations import PRMApp, WebhookEvent

APP = PRMApp(
    label="webhooks",
    webhook_events=(WebhookEvent("webhooks.ping", "A test event ops sent to try the endpoint"),),
)
