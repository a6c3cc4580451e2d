"""How long the delivery log is kept: events (with their deliveries and
attempts) are deleted 30 days after they happened, once none of their
deliveries is still pending (none is, after the 24 hours of retries)."""

from datetime import datetime, timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from .models import WebhookDelivery, WebhookEvent

KEEP = timedelta(days=30)


def purge(now: datetime | None = None, batch: int = 1000) -> int:
    """Delete the events past ``KEEP`` (a batch at a time); returns how
    many. Platform-level: every tenant's."""
    now = now or timezone.now()
    deleted = 0
    with scopes_disabled():
        while True:
            old = list(
                WebhookEvent.objects.filter(created_at__lt=now - KEEP)
                .exclude(deliveries__state=WebhookDelivery.State.PENDING)
                .values_list("pk", flat=True)[:batch]
            )
            if not old:
                return deleted
            WebhookEvent.objects.filter(pk__in=old).delete()
            deleted += len(old)
