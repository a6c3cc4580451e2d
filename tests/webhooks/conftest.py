"""What the webhook tests share: endpoints made straight in the database
(the admin's own tests make them through the form)."""

from prm.tenancy.models import Tenant
from prm.webhooks.models import WebhookEndpoint

SAMPLE = "sample.happened"  # declared by tests/declared_app


def make_endpoint(
    tenant: Tenant,
    url: str = "https://hooks.example.com/prm",
    events: tuple[str, ...] = (SAMPLE,),
    *,
    secret: str = "whsec_test_secret",
    is_active: bool = True,
) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        tenant=tenant, url=url, events=list(events), secret=secret, is_active=is_active
    )
