"""Webhook helpers for the onboarding, program and reporting API tests: an
endpoint subscribed to some events, and the events of a type sent."""

from prm.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


def subscribe(world, *types: str) -> WebhookEndpoint:
    with world.scope():
        return WebhookEndpoint.objects.create(
            tenant=world.tenant,
            url="https://hooks.example.com/prm",
            events=list(types),
            secret="whsec_test",
        )


def sent(world, type: str) -> list[WebhookEvent]:
    """The events of ``type`` written, oldest first, each checked to have a
    pending delivery to the endpoint."""
    with world.scope():
        found = list(WebhookEvent.objects.filter(type=type).order_by("created_at"))
        for event in found:
            deliveries = WebhookDelivery.objects.filter(event=event)
            states = list(deliveries.values_list("state", flat=True))
            assert states == [WebhookDelivery.State.PENDING], (type, states)
        return found
