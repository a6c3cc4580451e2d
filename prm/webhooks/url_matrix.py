"""The webhooks' part of the URL-matrix test (tests/test_url_matrix.py),
loaded by the tests only (``PRMApp.url_matrix``): one endpoint and one
delivery of a tenant (made on first use)."""

from typing import Any

from django.utils import timezone

from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent

MATRIX_URL = "https://hooks.example.com/url-matrix"


def _endpoint(world: Any) -> WebhookEndpoint:
    with world.scope():
        endpoint, _ = WebhookEndpoint.objects.get_or_create(
            tenant=world.tenant,
            url=MATRIX_URL,
            defaults={"events": ["webhooks.ping"], "secret": "whsec_matrix"},
        )
        return endpoint


def _delivery(world: Any) -> WebhookDelivery:
    endpoint = _endpoint(world)
    with world.scope():
        found = WebhookDelivery.objects.filter(endpoint=endpoint).first()
        if found is None:
            event = WebhookEvent.objects.create(
                tenant=world.tenant, type="webhooks.ping", data={"endpoint": str(endpoint.pk)}
            )
            found = WebhookDelivery.objects.create(
                tenant=world.tenant,
                event=event,
                endpoint=endpoint,
                state=WebhookDelivery.State.FAILED,
                attempts=1,
                last_attempt_at=timezone.now(),
                response_code=500,
            )
        return found


ADMIN_OBJECTS: dict = {
    "webhooks.webhookendpoint": _endpoint,
    "webhooks.webhookdelivery": _delivery,
}
