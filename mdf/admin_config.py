"""MDF configuration in the tenant admin: fund types (ops add and change
them; all staff read) and the tenant's MDF settings (one row, opened
directly)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from prm import format as fmt
from prm.tenancy.admin_base import (
    SettingsRowAdmin,
    TenantModelAdmin,
    audit_form_changes,
    tenant_admin_site,
)

from . import admin_forms
from .models import ActivityType, Document, FundType, MdfSettings


@admin.register(FundType, site=tenant_admin_site)
class FundTypeAdmin(TenantModelAdmin):
    form = admin_forms.FundTypeForm
    list_display = [
        "name",
        "funding",
        "reimbursement",
        "claim_window_days",
        "request_lead_days",
        "activities",
        "documents",
        "active",
    ]
    list_filter = ["funding", "active"]
    search_fields = ["name"]
    ordering = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "description", "active"]}),
        (
            "Money",
            {
                "fields": [
                    "funding",
                    "reimbursement_percent",
                    "accrual_percent",
                    "second_approval_above",
                ],
                "description": "The accrual % applies to co-op funds only (accrued from won "
                "deals); allocated funds leave it empty.",
            },
        ),
        ("Deadlines", {"fields": ["request_lead_days", "claim_window_days"]}),
        ("What it pays for", {"fields": ["activity_types", "required_documents"]}),
    ]

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/mdf.css"]}

    # A fund type in use is deactivated, never deleted (budgets point at it).
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="reimbursement", ordering="reimbursement_percent")
    def reimbursement(self, obj: FundType) -> str:
        text = f"{fmt.number(obj.reimbursement_percent)} %"
        if obj.is_accrual and obj.accrual_percent is not None:
            text += f" · accrues {fmt.number(obj.accrual_percent)} % of won deals"
        return text

    @admin.display(description="activities")
    def activities(self, obj: FundType) -> str:
        labels = dict(ActivityType.choices)
        return ", ".join(str(labels.get(a, a)) for a in obj.activity_types) or "-"

    @admin.display(description="documents required")
    def documents(self, obj: FundType) -> str:
        labels = dict(Document.choices)
        return ", ".join(str(labels.get(d, d)) for d in obj.required_documents) or "-"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_form_changes(
            request, obj, form, "mdf.fund_type_changed" if change else "mdf.fund_type_added"
        )


@admin.register(MdfSettings, site=tenant_admin_site)
class MdfSettingsAdmin(SettingsRowAdmin):
    audit_action = "mdf.settings_changed"
    fieldsets = [
        (
            "Decision deadlines (business days on the tenant's calendar)",
            {
                "fields": [
                    "request_decision_days",
                    "claim_decision_days",
                    "reminder_hours_before",
                ]
            },
        ),
    ]
