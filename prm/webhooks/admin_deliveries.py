"""The delivery log in the tenant admin, for ops: read-only.

The list (usually of one endpoint, ``?endpoint=<id>``, linked from the
endpoint's page) shows each delivery's event, state, attempts and last
answer; a search for an event id finds its deliveries. A delivery's page
shows the request body (the event's envelope) and every attempt with its
headers and the receiver's answer. "Send again" (on the page, or for the
selected rows of the list) makes a new attempt now, whatever the state.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest
from django.urls import reverse

from prm import format as fmt
from prm.tenancy.admin_base import ActionFormsMixin, ServiceFormsAdmin, tenant_admin_site
from prm.tenancy.admin_filters import ChosenObjectFilter
from prm.tenancy.chips import chip
from prm.tenancy.requests import as_member, tenant_of

from . import services
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

RESEND_PERM = "webhooks.change_webhookdelivery"


class EndpointFilter(ChosenObjectFilter):
    title = "endpoint"
    parameter_name = "endpoint"
    field = "endpoint_id"

    def candidates(self, request: HttpRequest, model_admin: Any) -> QuerySet[Any]:
        return WebhookEndpoint.objects.filter(tenant=tenant_of(request)).order_by("url")

    def chosen(self, pk: uuid.UUID) -> WebhookEndpoint | None:
        return WebhookEndpoint.objects.filter(pk=pk).first()


class EventTypeFilter(admin.SimpleListFilter):
    title = "event"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, key) for key in services.registry.webhook_events()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(event__type=value) if value else queryset


def _may_resend(request: HttpRequest) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.has_perm(RESEND_PERM)


@admin.register(WebhookDelivery, site=tenant_admin_site)
class WebhookDeliveryAdmin(ActionFormsMixin, ServiceFormsAdmin):
    list_display = ["event_type", "event_id_short", "endpoint_url", "state_chip", "attempts"]
    list_display += ["last_answer", "last_attempt", "duration"]
    list_filter = [EndpointFilter, "state", EventTypeFilter]
    list_select_related = ["event", "endpoint"]
    search_fields = ["event__type"]
    search_help_text = "An event id, or an event type (registration.approved)."
    fields = ["state"]
    change_form_template = "admin/webhooks/delivery_change_form.html"
    actions = ["send_again"]

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/webhooks.css"]}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        try:
            event_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(event_id=event_id), False

    # Columns

    @admin.display(description="event", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description="event id")
    def event_id_short(self, obj: WebhookDelivery) -> str:
        return str(obj.event_id)

    @admin.display(description="endpoint")
    def endpoint_url(self, obj: WebhookDelivery) -> str:
        return obj.endpoint.url

    @admin.display(description="state", ordering="state")
    def state_chip(self, obj: WebhookDelivery) -> Any:
        return chip(obj.get_state_display(), obj.state)

    @admin.display(description="last answer")
    def last_answer(self, obj: WebhookDelivery) -> str:
        if obj.response_code is not None:
            return str(obj.response_code)
        return obj.error[:80] if obj.error else "-"

    @admin.display(description="last attempt", ordering="last_attempt_at")
    def last_attempt(self, obj: WebhookDelivery) -> str:
        return fmt.moment(obj.last_attempt_at) if obj.last_attempt_at else "-"

    @admin.display(description="time")
    def duration(self, obj: WebhookDelivery) -> str:
        return f"{fmt.number(obj.duration_ms)} ms" if obj.duration_ms is not None else "-"

    # Send again: the list's action and the page's form

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return _may_resend(request)

    @admin.action(description="Send the selected deliveries again", permissions=["resend"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        user = as_member(request).user
        sent = busy = 0
        for found in queryset.select_related("event", "endpoint"):
            try:
                services.send_again(found, by=user)
            except services.WebhooksError:
                busy += 1
            else:
                sent += 1
        messages.success(request, f"{fmt.plural(sent, 'delivery,deliveries')} sent again.")
        if busy:
            busy_text = fmt.plural(busy, "delivery,deliveries")
            messages.warning(request, f"{busy_text} had an attempt under way, left alone.")

    action_forms = {"resend": Form}
    action_errors = services.WebhooksError

    def make_action_form(
        self, request: HttpRequest, action: str, obj: Any, data: Any = None
    ) -> Form:
        return Form(data, prefix=action)

    def action_allowed(self, request: HttpRequest, action: str, obj: Any) -> bool:
        return _may_resend(request)

    def run_action(self, request: HttpRequest, action: str, obj: WebhookDelivery, form: Any) -> str:
        attempt = services.send_again(obj, by=as_member(request).user)
        return f"Sent again (attempt {attempt.number}): the answer is below once it comes."

    def action_page_context(
        self, request: HttpRequest, obj: WebhookDelivery, bound: dict[str, Form]
    ) -> dict[str, Any]:
        attempts = WebhookAttempt.objects.filter(delivery=obj).order_by("-number")
        body = json.dumps(obj.event.envelope(), indent=2, ensure_ascii=False, sort_keys=False)
        return {
            "delivery": obj,
            "state_chip": chip(obj.get_state_display(), obj.state),
            "request_body": body,
            "attempt_rows": [
                {
                    "attempt": attempt,
                    "headers": sorted(attempt.request_headers.items()),
                }
                for attempt in attempts
            ],
            "endpoint_url": reverse(
                "tenant_admin:webhooks_webhookendpoint_change", args=[obj.endpoint_id]
            ),
            "log_url": reverse("tenant_admin:webhooks_webhookdelivery_changelist")
            + f"?endpoint={obj.endpoint_id}",
            "action_forms": self.action_page_forms(request, obj, bound),
        }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("event", "endpoint")
