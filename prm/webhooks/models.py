"""Webhook endpoints, the events sent to them and the log of their delivery.

An event (``WebhookEvent``) is written in the same transaction as the change
it reports (``events.emit``), with one ``WebhookDelivery`` per endpoint that
wants it; each try of a delivery is a ``WebhookAttempt`` (the delivery log).
The event's id is what receivers drop duplicates by: delivery is at least
once.
"""

import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from prm.tenancy.constraints import tenant_foreign_keys, tenant_key
from prm.tenancy.models import TenantOwned

API_VERSION = "v1"
# How much of a receiver's answer the log keeps.
RESPONSE_EXCERPT = 2048


class WebhookEndpoint(TenantOwned):
    """A URL ops registered to receive some of the tenant's events.

    ``secret`` signs every request (HMAC-SHA256, see ``signing``). It is
    stored as it is, because signing needs it, but shown only once: on the
    page after the endpoint is added or its secret rolled. An endpoint whose
    deliveries have failed without a success since ``failing_since`` for
    three days is disabled (``is_active`` off, ``disabled_at`` and
    ``disabled_reason`` set) and ops are told."""

    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=80), default=list)
    secret = models.CharField(max_length=100, editable=False)
    # The secret before the last roll, still signing beside the new one
    # until ``previous_secret_until`` (receivers switch over meanwhile).
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField("active", default=True)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    # The first failed attempt since the last success (None: not failing).
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "webhook endpoint"
        constraints = [tenant_key("webhookendpoint_tenant_key")]

    def __str__(self) -> str:
        # Headings and breadcrumbs show it: a long URL (a token in its
        # query) is cut.
        return self.url if len(self.url) <= 80 else f"{self.url[:79]}…"

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a request is signed with at ``now``."""
        previous = self.previous_secret_until is not None and now < self.previous_secret_until
        return [self.secret, self.previous_secret] if previous else [self.secret]


class WebhookEvent(TenantOwned):
    """Something that happened, as sent to the endpoints: its ``type`` (a
    key an app declared, ``PRMApp.webhook_events``) and ``data``, the
    object's API representation. Its id is the event id receivers dedupe on."""

    type = models.CharField(max_length=80)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook event"
        indexes = [models.Index(fields=["created_at"], name="webhookevent_created")]
        constraints = [tenant_key("webhookevent_tenant_key")]

    def __str__(self) -> str:
        return f"{self.type} {self.pk}"

    def envelope(self) -> dict[str, Any]:
        """What every endpoint receives (the request's JSON body)."""
        created = self.created_at.astimezone(UTC).isoformat(timespec="seconds")
        return {
            "id": str(self.pk),
            "type": self.type,
            "created": created.replace("+00:00", "Z"),
            "api_version": API_VERSION,
            "data": {"object": self.data},
        }

    def body(self) -> bytes:
        """The request body: the envelope as compact JSON (UTF-8)."""
        return json.dumps(
            self.envelope(), cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False
        ).encode()


class WebhookDelivery(TenantOwned):
    """One event to one endpoint: pending until an attempt succeeds
    (``succeeded``) or its retries run out (``failed``). While pending,
    ``next_attempt_at`` is when it is due; while an attempt runs, the time
    after which it counts as lost and is tried again."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="webhookdelivery_due",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhookdelivery_log"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint"),
            models.CheckConstraint(
                condition=~models.Q(state="pending") | models.Q(next_attempt_at__isnull=False),
                name="webhookdelivery_pending_is_due",
            ),
            *tenant_foreign_keys("webhookdelivery", "event", "endpoint"),
            tenant_key("webhookdelivery_tenant_key"),
        ]

    def __str__(self) -> str:
        return f"{self.event.type} to {self.endpoint.url}"


class WebhookAttempt(TenantOwned):
    """One try of a delivery: the request's headers (the body is the
    event's envelope), the answer or the error, how long it took.
    ``finished_at`` is None while it runs (or if its worker died)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", db_constraint=False
    )
    number = models.PositiveIntegerField()
    # Sent again by hand ("send again", a test event), not by the schedule.
    manual = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    url = models.CharField("URL", max_length=500)
    # The address connected to (checked for safety first).
    address = models.CharField(max_length=64, blank=True)
    request_headers = models.JSONField(default=dict)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        verbose_name = "webhook attempt"
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number"),
            *tenant_foreign_keys("webhookattempt", "delivery"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number}"

    @property
    def succeeded(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300
