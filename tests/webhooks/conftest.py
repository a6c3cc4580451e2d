"""What the webhook tests share: endpoints made straight in the database
(the admin's own tests make them through the form)."""

import pytest

from prm.tenancy.models import Tenant
from prm.webhooks.models import WebhookEndpoint

from . import receiver as receiver_module

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


@pytest.fixture
def receiver():
    found = receiver_module.start()
    yield found
    found.close()


@pytest.fixture
def local_urls(settings):
    """Plain http to this machine allowed (development), short timeouts."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOKS_CONNECT_TIMEOUT = 0.5
    settings.WEBHOOKS_TIMEOUT = 1.0
    return settings


@pytest.fixture
def production_urls(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    return settings
