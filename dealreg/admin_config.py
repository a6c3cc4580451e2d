"""Deal registration configuration in the tenant admin: product lines,
routing rules, the policy (one settings row per tenant, opened directly),
closure days, per-tier protection, custom fields and the vendor's direct
pipeline (with the CSV import)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import (
    Count,
    QuerySet,
)
from django.http import HttpRequest, HttpResponse

from prm import format as fmt
from prm.tenancy.admin_base import (
    SettingsRowAdmin,
    TenantModelAdmin,
    tenant_admin_site,
)
from prm.tenancy.csv_import import CsvImporter, CsvImportMixin
from prm.tenancy.requests import as_member

from . import admin_forms, direct_import
from .models import (
    ClosureDay,
    CustomField,
    DealRegistration,
    DealRegSettings,
    DirectOpportunity,
    ProductLine,
    RoutingRule,
    TierProtection,
)
from .routing import APPROVER_ROLES, routing_gaps

# Regions, tiers, product lines and approvers are short lists: tick boxes.
CHECKBOXES = {
    **TenantModelAdmin.formfield_overrides,
    models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple},
}


# --- Configuration ------------------------------------------------------------------


@admin.register(ProductLine, site=tenant_admin_site)
class ProductLineAdmin(TenantModelAdmin):
    list_display = ["name", "code", "is_active", "registration_count"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}
    fields = ["name", "code", "description", "is_active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(registration_total=Count("registrations"))

    @admin.display(description="registrations", ordering="registration_total")
    def registration_count(self, obj: Any) -> int:
        return obj.registration_total

    def get_deleted_objects(
        self, objs: Sequence[Any] | QuerySet[Any], request: HttpRequest
    ) -> tuple[list[Any], dict[Any, Any], set[Any], list[Any]]:
        """A product line in use is deactivated, not deleted: deleting it
        would silently drop it from registrations and pipeline deals, and
        would widen a routing rule limited to it to every product."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        objs = list(objs)
        uses = [
            (
                f"Deal registration {r.code} ({r.customer_name})"
                for r in _using(DealRegistration, objs)
            ),
            (f"Routing rule {r.name}" for r in _using(RoutingRule, objs)),
            (f"Direct opportunity {o}" for o in _using(DirectOpportunity, objs)),
        ]
        protected = list(protected) + [text for use in uses for text in use]
        return deleted, counts, perms_needed, protected


def _using(model: Any, product_lines: Any, limit: int = 20) -> QuerySet[Any]:
    return model.objects.filter(product_lines__in=product_lines).distinct()[:limit]


class RoutingGapFilter(admin.SimpleListFilter):
    title = "who decides"
    parameter_name = "gap"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("yes", "Nobody active (a gap)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(routing_gaps()) if self.value() == "yes" else queryset


@admin.register(RoutingRule, site=tenant_admin_site)
class RoutingRuleAdmin(TenantModelAdmin):
    form = admin_forms.RoutingRuleForm
    list_display = ["priority", "name", "is_active", "conditions", "assigns_to"]
    list_display_links = ["name"]
    list_editable = ["priority", "is_active"]
    list_filter = ["is_active", RoutingGapFilter]
    search_fields = ["name"]
    ordering = ["priority", "name"]
    formfield_overrides = CHECKBOXES
    user_fk_roles = {"approver": APPROVER_ROLES, "pool": APPROVER_ROLES}
    readonly_fields = ["last_assigned"]
    fieldsets = [
        (None, {"fields": ["name", "priority", "is_active"]}),
        (
            "Conditions (all given ones must match; empty matches anything)",
            {
                "fields": [
                    "countries",
                    "regions",
                    "tiers",
                    "partner_types",
                    "product_lines",
                    "min_value",
                    "max_value",
                ]
            },
        ),
        ("Who decides", {"fields": ["approver", "pool", "last_assigned"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .select_related("approver")
            .prefetch_related("regions", "tiers", "product_lines", "pool")
        )

    @admin.display(description="conditions")
    def conditions(self, obj: RoutingRule) -> str:
        parts = []
        if obj.countries:
            parts.append("countries " + ", ".join(c.code for c in obj.countries))
        for label, related in (
            ("regions", obj.regions.all()),
            ("tiers", obj.tiers.all()),
            ("products", obj.product_lines.all()),
        ):
            names = [str(r) for r in related]
            if names:
                parts.append(f"{label} {', '.join(names)}")
        if obj.partner_types:
            parts.append("types " + ", ".join(obj.partner_types))
        if obj.min_value is not None:
            parts.append(f"value ≥ {fmt.number(obj.min_value)}")
        if obj.max_value is not None:
            parts.append(f"value ≤ {fmt.number(obj.max_value)}")
        return "; ".join(parts) or "anything"

    @admin.display(description="assigns to")
    def assigns_to(self, obj: RoutingRule) -> str | None:
        if obj.approver:
            return str(obj.approver)
        pool = [str(u) for u in obj.pool.all()]
        return f"round-robin: {', '.join(pool)}" if pool else None


@admin.register(DealRegSettings, site=tenant_admin_site)
class DealRegSettingsAdmin(SettingsRowAdmin):
    form = admin_forms.DealRegSettingsForm
    audit_action = "dealreg.settings_changed"
    fieldsets = [
        (
            "Decision SLA",
            {
                "fields": [
                    "sla_business_hours",
                    "workdays",
                    "day_start",
                    "day_end",
                    "reminder_percents",
                    "escalate_on_breach",
                    "auto_approve_on_breach",
                ]
            },
        ),
        (
            "Protection",
            {
                "fields": [
                    "protection_days",
                    "expiry_warning_days",
                    "max_extensions",
                    "extension_days",
                ]
            },
        ),
        ("Conflicts", {"fields": ["name_similarity_threshold"]}),
    ]


@admin.register(ClosureDay, site=tenant_admin_site)
class ClosureDayAdmin(TenantModelAdmin):
    list_display = ["day", "name"]
    search_fields = ["name"]
    date_hierarchy = "day"
    fields = ["day", "name"]


@admin.register(TierProtection, site=tenant_admin_site)
class TierProtectionAdmin(TenantModelAdmin):
    list_display = ["tier", "protection_days"]
    list_select_related = ["tier"]
    ordering = ["-tier__rank"]
    fields = ["tier", "protection_days"]


@admin.register(CustomField, site=tenant_admin_site)
class CustomFieldAdmin(TenantModelAdmin):
    form = admin_forms.CustomFieldForm
    list_display = ["label", "key", "field_type", "required", "position", "is_active"]
    list_filter = ["field_type", "is_active"]
    ordering = ["position", "label"]
    fields = [
        "label",
        "key",
        "field_type",
        "choices",
        "required",
        "help_text",
        "position",
        "is_active",
    ]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Any = None
    ) -> list[str] | tuple[str, ...]:
        # Answers are stored under the key: renaming it would orphan them.
        used = DealRegistration.objects.filter(custom_data__has_key=obj.key) if obj else None
        if used is not None and used.exists():
            return ["key"]
        return []


class DirectOpportunityImporter(CsvImporter):
    noun = "direct opportunities"
    columns = direct_import.CSV_COLUMNS
    required_columns = direct_import.REQUIRED_COLUMNS
    template = "admin/dealreg/directopportunity/import.html"

    def allowed(self) -> bool:
        return self.membership.has_perm("dealreg.import_directopportunity")

    def check(self, text: str) -> direct_import.ImportResult:
        return direct_import.parse_direct_csv(self.tenant, text)

    def apply(self, text: str) -> direct_import.ImportResult:
        return direct_import.import_direct_opportunities(
            tenant=self.tenant, by=self.user, text=text
        )

    def success_message(self, result: Any) -> str:
        return f"Imported {result.created} new and updated {result.updated} direct opportunities."

    def context(self) -> dict:
        return {"base_currency": self.tenant.base_currency}


@admin.register(DirectOpportunity, site=tenant_admin_site)
class DirectOpportunityAdmin(CsvImportMixin, TenantModelAdmin):
    csv_importer = DirectOpportunityImporter
    form = admin_forms.DirectOpportunityForm
    change_list_template = "admin/dealreg/directopportunity/change_list.html"
    list_display = [
        "customer_name",
        "external_id",
        "customer_domain",
        "stage",
        "amount_display",
        "owner_name",
        "close_date",
        "imported_at",
    ]
    list_filter = ["stage", "product_lines"]
    search_fields = ["customer_name", "external_id", "customer_domain", "owner_name", "owner_email"]
    formfield_overrides = CHECKBOXES
    readonly_fields = ["customer_name_normalized", "imported_at"]
    fieldsets = [
        (
            "Customer",
            {
                "fields": [
                    "external_id",
                    "customer_name",
                    "customer_name_normalized",
                    "customer_domain",
                    "customer_country",
                ]
            },
        ),
        (
            "Opportunity",
            {
                "fields": [
                    "product_lines",
                    "owner_name",
                    "owner_email",
                    "stage",
                    "amount",
                    "currency",
                    "close_date",
                    "imported_at",
                ]
            },
        ),
    ]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj: DirectOpportunity) -> str | None:
        return fmt.money(obj.amount, obj.currency) if obj.amount is not None else None

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_import": as_member(request).membership.has_perm(
                "dealreg.import_directopportunity"
            ),
        }
        return super().changelist_view(request, extra_context)
