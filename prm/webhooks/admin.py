"""Webhook endpoints in the tenant admin, for ops.

The list shows each endpoint's state (active, failing since, disabled); the
add form takes the URL (checked: https, public addresses only), a
description and the events, chosen from what the apps declare. The signing
secret is made on add and on "roll the secret", and shown once: the page
after keeps it in the session only until it renders it (it is stored on the
endpoint, since signing needs it, but never shown again). The endpoint's
page also sends a test event, enables a disabled endpoint and links to its
delivery log (``admin_deliveries``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from prm import format as fmt
from prm.tenancy.admin_base import ActionFormsMixin, TenantModelAdmin, tenant_admin_site
from prm.tenancy.chips import chip
from prm.tenancy.confirm import Confirmation
from prm.tenancy.models import User
from prm.tenancy.requests import as_member
from prm.tenancy.services import AlreadyDone

from . import admin_deliveries as admin_deliveries  # registers the delivery log
from . import retention, safety, services
from .models import WebhookDelivery, WebhookEndpoint

CHANGE_PERM = "webhooks.change_webhookendpoint"
# Where the page after an add or a roll finds the secret to show, once.
SECRET_KEY = "webhooks.secret:{}"


def event_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The events an endpoint may receive, grouped by what they are about
    ("registration.approved" under "Registration")."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, description in services.subscribable_events().items():
        group = key.split(".")[0].replace("_", " ").capitalize()
        groups.setdefault(group, []).append((key, f"{description} ({key})"))
    return list(groups.items())


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"class": "vTextField"}),
        help_text="An https:// address on the public internet; it receives a POST per event.",
    )
    events = forms.MultipleChoiceField(
        choices=event_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events sent to this URL.",
    )
    # The add form sent twice adds one endpoint.
    form_token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events"]
        help_texts = {
            "description": "What receives the events, for the people reading this list.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding and not self.is_bound:
            self.initial.setdefault("form_token", uuid.uuid4())

    def clean_url(self) -> str:
        url = str(self.cleaned_data["url"])
        try:
            safety.check(url)
        except safety.UnsafeURL as error:
            raise ValidationError(str(error)) from None
        return url


class _AlreadyAdded(Exception):
    def __init__(self, object_id: str) -> None:
        super().__init__(object_id)
        self.object_id = object_id


def _state(endpoint: WebhookEndpoint) -> Any:
    if not endpoint.is_active:
        return chip("disabled", "failed")
    if endpoint.failing_since is not None:
        return chip(f"failing since {fmt.moment(endpoint.failing_since)}", "due_soon")
    return chip("active", "active")


@admin.register(WebhookEndpoint, site=tenant_admin_site)
class WebhookEndpointAdmin(ActionFormsMixin, TenantModelAdmin):
    form = EndpointForm
    list_display = ["url", "description", "event_count", "state", "created"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    change_form_template = "admin/webhooks/endpoint_change_form.html"

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/webhooks.css"]}

    @admin.display(description="events")
    def event_count(self, obj: WebhookEndpoint) -> str:
        return fmt.plural(len(obj.events), "event")

    @admin.display(description="state")
    def state(self, obj: WebhookEndpoint) -> Any:
        return _state(obj)

    @admin.display(description="added", ordering="created_at")
    def created(self, obj: WebhookEndpoint) -> str:
        return fmt.day(obj.created_at)

    # Saving: through the services

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user = self._user(request)
        if change:
            services.change_endpoint(obj, by=user, changed=form.changed_data)
            return
        token = form.cleaned_data.get("form_token")
        try:
            secret = services.add_endpoint(obj, by=user, token=str(token) if token else None)
        except AlreadyDone as done:
            raise _AlreadyAdded(done.object_id) from None
        request.session[SECRET_KEY.format(obj.pk)] = secret

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.delete_endpoint(obj, by=self._user(request))

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """The endpoints, and how much of their delivery log goes with them
        (counted, not listed: a log has thousands of rows), which needs no
        permission of its own."""
        endpoints = list(objs)
        logged = WebhookDelivery.objects.filter(endpoint__in=endpoints).count()
        listed = [str(endpoint) for endpoint in endpoints]
        if logged:
            listed.append(f"{fmt.plural(logged, 'delivery,deliveries')} of the delivery log")
        counts = {"webhook endpoints": len(endpoints), "webhook deliveries": logged}
        return listed, counts, set(), []

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _AlreadyAdded as added:
            # The add form sent twice: the first made the endpoint (and
            # left its secret for the page to show).
            return HttpResponseRedirect(self._change_url(added.object_id))

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        # Always on to the endpoint's page: it shows the secret, once.
        return HttpResponseRedirect(self._change_url(obj.pk))

    @staticmethod
    def _change_url(pk: Any) -> str:
        return reverse("tenant_admin:webhooks_webhookendpoint_change", args=[pk])

    @staticmethod
    def _user(request: HttpRequest) -> User:
        return as_member(request).user

    # The endpoint's page: its state, the secret once, actions, the log

    action_forms = {"roll": Form, "test": Form, "enable": Form}
    action_errors = services.WebhooksError

    def make_action_form(
        self, request: HttpRequest, action: str, obj: Any, data: Any = None
    ) -> Form:
        return Form(data, prefix=action)

    def action_allowed(self, request: HttpRequest, action: str, obj: WebhookEndpoint) -> bool:
        membership = getattr(request, "membership", None)
        if membership is None or not membership.has_perm(CHANGE_PERM):
            return False
        return action != "enable" or not obj.is_active

    def action_confirmation(
        self, request: HttpRequest, action: str, obj: WebhookEndpoint, form: Any
    ) -> Confirmation | None:
        if action != "roll":
            return None
        return Confirmation(
            title="Roll the signing secret?",
            object_label=obj.url,
            consequences=[
                "A new secret is made and shown once, on the next page.",
                "For 24 hours requests carry two signatures, one with each secret; "
                "after that only the new secret signs.",
            ],
            action_label="Roll the secret",
            cancel_url=request.path,
            danger=False,
        )

    def run_action(self, request: HttpRequest, action: str, obj: WebhookEndpoint, form: Any) -> str:
        user = self._user(request)
        if action == "roll":
            request.session[SECRET_KEY.format(obj.pk)] = services.roll_secret(obj, by=user)
            return "A new signing secret was made: copy it now."
        if action == "test":
            services.send_test_event(obj, by=user)
            return "A test event (webhooks.ping) was sent: its answer is in the delivery log."
        services.enable(obj, by=user)
        return "The endpoint is enabled again: the next events are sent to it."

    def action_page_context(
        self, request: HttpRequest, obj: WebhookEndpoint, bound: dict[str, Form]
    ) -> dict[str, Any]:
        since = timezone.now() - retention.KEEP
        states = Counter(
            dict(
                WebhookDelivery.objects.filter(endpoint=obj, created_at__gte=since)
                .values_list("state")
                .annotate(n=Count("pk"))
                .values_list("state", "n")
            )
        )
        log_url = reverse("tenant_admin:webhooks_webhookdelivery_changelist")
        return {
            "endpoint": obj,
            "state_chip": _state(obj),
            "new_secret": request.session.pop(SECRET_KEY.format(obj.pk), None),
            "action_forms": self.action_page_forms(request, obj, bound),
            "log_url": f"{log_url}?endpoint={obj.pk}",
            "failed_url": f"{log_url}?endpoint={obj.pk}&state__exact=failed",
            "log_states": {state: states.get(state, 0) for state in WebhookDelivery.State},
        }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("created_by")
