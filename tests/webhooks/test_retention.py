"""The delivery log is kept 30 days (prm.webhooks.retention.purge, daily on
beat): older events go with their deliveries and attempts, unless one is
still pending."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from prm.tenancy import registry
from prm.webhooks import delivery, events, retention
from prm.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent

from .conftest import SAMPLE, make_endpoint

pytestmark = pytest.mark.django_db


def test_events_older_than_30_days_go_with_their_log(acme, globex):
    now = timezone.now()
    for world in (acme, globex):
        with world.scope():
            make_endpoint(world.tenant)
            with transaction.atomic():
                for age in (31, 29):
                    event = events.emit(
                        world.tenant, SAMPLE, {"age": age}, now=now - timedelta(days=age)
                    )
                    delivery.claim(str(event.deliveries.get().pk), now=now)
    with scopes_disabled():
        WebhookDelivery.objects.update(state=WebhookDelivery.State.FAILED, next_attempt_at=None)
        # One old delivery still pending (a send again under way): kept.
        kept = WebhookEvent.objects.get(tenant=globex.tenant, data__age=31)
        kept.deliveries.update(state=WebhookDelivery.State.PENDING, next_attempt_at=now)
        assert WebhookAttempt.objects.count() == 4
    assert retention.purge(now=now) == 1
    with scopes_disabled():
        left = sorted(WebhookEvent.objects.values_list("tenant__slug", "data__age"))
        assert left == [("acme", 29), ("globex", 29), ("globex", 31)]
        assert WebhookDelivery.objects.count() == 3 and WebhookAttempt.objects.count() == 3


def test_the_beat_sends_due_retries_every_minute_and_purges_daily():
    schedule = registry.beat_schedule()
    assert schedule["webhooks-sweep"]["task"] == "webhooks.sweep"
    assert schedule["webhooks-sweep"]["schedule"] == 60.0
    assert schedule["webhooks-purge"]["task"] == "webhooks.purge"
