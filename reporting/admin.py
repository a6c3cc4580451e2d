"""Reporting in the tenant admin: the health score settings (weights per
declared component, at-risk thresholds; ops change them, staff read them)
and the read-only list of at-risk episodes the dashboards drill into."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from partners.admin_filters import PartnerWithRowsFilter
from partners.models import partner_admin_url
from prm.tenancy.admin_base import (
    SettingsRowAdmin,
    TenantModelAdmin,
    tenant_admin_site,
    tenant_member_users,
)
from prm.tenancy.chips import chip
from prm.tenancy.drill import MetricRowsFilter
from prm.tenancy.registry import health_components
from prm.tenancy.requests import as_member, tenant_of
from prm.tenancy.roles import Role
from prm.tenancy.text import plural

from .models import AtRiskEpisode, HealthSettings
from .models.health import MAX_WEIGHT, weight_errors

WEIGHT_PREFIX = "weight__"


def weight_field(key: str) -> str:
    return WEIGHT_PREFIX + key.replace(".", "__")


class HealthSettingsForm(forms.ModelForm):
    """The thresholds, and one weight field per declared health component
    (added by ``settings_form``), saved into ``weights``."""

    class Meta:
        model = HealthSettings
        fields = list(HealthSettings.THRESHOLDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        weights = self.instance.weight_table()
        for key in health_components():
            name = weight_field(key)
            if name in self.fields:
                self.fields[name].initial = weights[key]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        weights = {
            key: cleaned[weight_field(key)]
            for key in health_components()
            if cleaned.get(weight_field(key)) is not None
        }
        if len(weights) == len(health_components()):
            errors = weight_errors(weights, health_components().values())
            for error in errors:
                self.add_error(None, error)
            if not errors:
                self.instance.weights = weights
        return cleaned


def settings_form() -> type[HealthSettingsForm]:
    """The settings form with a weight field for each component declared now."""
    fields = {
        weight_field(key): forms.IntegerField(
            label=component.name,
            min_value=0,
            max_value=MAX_WEIGHT,
            help_text=f"{component.description} Default {component.default_weight}.",
        )
        for key, component in health_components().items()
    }
    return type("HealthSettingsForm", (HealthSettingsForm,), fields)


@admin.register(HealthSettings, site=tenant_admin_site)
class HealthSettingsAdmin(SettingsRowAdmin):
    audit_action = "reporting.health_settings_changed"

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        kwargs["form"] = settings_form()
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # Those who may only read see the weights as a list (the weight
        # fields are the form's, not the model's).
        if self.has_change_permission(request, obj):
            weights = [weight_field(key) for key in health_components()]
        else:
            weights = ["weight_list"]
        return [
            (
                "Weights",
                {
                    "fields": weights,
                    "description": (
                        "How much each component counts in the 0-100 score, 0 to 100 each. "
                        "A component with no data for a partner is left out of that "
                        "partner's score and the others' weights are rescaled."
                    ),
                },
            ),
            (
                "At risk when",
                {
                    "fields": [
                        "score_drop_points",
                        "score_drop_days",
                        "no_registration_days",
                        "pipeline_drop_percent",
                        "pipeline_period_days",
                    ]
                },
            ),
        ]

    @admin.display(description="weights")
    def weight_list(self, obj: HealthSettings) -> SafeString:
        components = health_components()
        return format_html(
            '<ul class="hs-weights">{}</ul>',
            format_html_join(
                "",
                '<li>{}: {} <span class="help">(default {})</span></li>',
                (
                    (components[key].name, weight, components[key].default_weight)
                    for key, weight in obj.weight_table().items()
                ),
            ),
        )


class EpisodeStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open (at risk now)"), ("closed", "Closed")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[AtRiskEpisode]
    ) -> QuerySet[AtRiskEpisode]:
        if self.value() == "open":
            return queryset.filter(closed_on__isnull=True)
        if self.value() == "closed":
            return queryset.filter(closed_on__isnull=False)
        return queryset


class EpisodeManagerFilter(admin.SimpleListFilter):
    """The partner's channel manager (as now): me, one of them, or nobody."""

    title = "channel manager"
    parameter_name = "manager"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        managers = tenant_member_users(tenant_of(request), [Role.CHANNEL_MANAGER])
        return [
            ("me", "Mine"),
            ("none", "Nobody"),
            *((str(user.pk), str(user)) for user in managers.order_by("full_name", "email")),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[AtRiskEpisode]
    ) -> QuerySet[AtRiskEpisode]:
        value = self.value()
        if value == "me":
            return queryset.filter(partner__channel_manager=as_member(request).user)
        if value == "none":
            return queryset.filter(partner__channel_manager__isnull=True)
        if value:
            try:
                chosen = uuid.UUID(value)
            except ValueError:
                return queryset.none()
            # One of this tenant's people (an id from elsewhere lists nothing).
            people = tenant_member_users(tenant_of(request)).filter(pk=chosen)
            return queryset.filter(partner__channel_manager__in=people)
        return queryset


@admin.register(AtRiskEpisode, site=tenant_admin_site)
class AtRiskEpisodeAdmin(TenantModelAdmin):
    """Read-only: episodes open and close with the nightly health run."""

    list_display = ["partner_link", "state", "opened_on", "closed_on", "reason_list", "manager"]
    list_filter = [
        MetricRowsFilter,
        EpisodeStateFilter,
        EpisodeManagerFilter,
        PartnerWithRowsFilter,
    ]
    list_select_related = ["partner", "partner__channel_manager"]
    search_fields = ["partner__name"]
    ordering = ["-opened_on", "partner__name"]
    date_hierarchy = "opened_on"
    fields = ["partner", "opened_on", "closed_on", "reason_list", "notified_at"]
    readonly_fields = ["partner", "opened_on", "closed_on", "reason_list", "notified_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="partner", ordering="partner__name")
    def partner_link(self, obj: AtRiskEpisode) -> SafeString:
        return format_html('<a href="{}">{}</a>', partner_admin_url(obj.partner), obj.partner.name)

    @admin.display(description="state")
    def state(self, obj: AtRiskEpisode) -> SafeString:
        if obj.is_open:
            return chip("At risk", "at_risk")
        return chip("Closed", "closed")

    @admin.display(description="reasons")
    def reason_list(self, obj: AtRiskEpisode) -> str:
        return "; ".join(obj.reason_texts())

    @admin.display(description="channel manager")
    def manager(self, obj: AtRiskEpisode) -> str:
        return str(obj.partner.channel_manager or "nobody")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:
        open_count = AtRiskEpisode.objects.filter(closed_on__isnull=True).count()
        extra_context = {
            **(extra_context or {}),
            "subtitle": plural(open_count, "partner") + " at risk now",
        }
        return super().changelist_view(request, extra_context)
