"""Onboarding configuration in the tenant admin (ops change it; all staff
read): the tenant's onboarding settings (one row, opened directly), the
application form's own questions, the vetting checklist and the rules that
pick a new partner's channel manager. Each save is audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from partners.models import Partner
from prm.tenancy.admin_base import (
    SettingsRowAdmin,
    TenantModelAdmin,
    audit_form_changes,
    tenant_admin_site,
)
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role

from .models import (
    Application,
    ApplicationCheck,
    AssignmentRule,
    OnboardingSettings,
    Question,
    VettingCheck,
)


class AuditedAdmin(TenantModelAdmin):
    """Saves audited as ``<audit_name>_added`` / ``_changed``."""

    audit_name = ""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        suffix = "changed" if change else "added"
        audit_form_changes(request, obj, form, f"onboarding.{self.audit_name}_{suffix}")


@admin.register(OnboardingSettings, site=tenant_admin_site)
class OnboardingSettingsAdmin(SettingsRowAdmin):
    audit_action = "onboarding.settings_changed"
    fieldsets = [
        ("The application page", {"fields": ["applications_open", "welcome_text"]}),
        (
            "Vetting (business days on the vendor's calendar)",
            {"fields": ["decision_business_days", "reminder_business_days"]},
        ),
        (
            "Abuse limits",
            {"fields": ["confirm_within_hours", "limit_per_ip", "limit_per_domain"]},
        ),
        (
            "New partners",
            {
                "fields": [
                    "entry_tier",
                    "target_days",
                    "activation",
                    "step_reminder_days",
                    "stalled_after_days",
                    "agreement_grace_days",
                ]
            },
        ),
    ]


class QuestionForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        options = [line.strip() for line in (cleaned.get("choices") or "").splitlines()]
        options = [o for o in options if o]
        if cleaned.get("field_type") == Question.Type.CHOICE:
            if len(options) < 2:
                self.add_error(
                    "choices", "A choice question needs at least two options, one a line."
                )
            repeated = sorted({o for o in options if options.count(o) > 1})
            if repeated:
                self.add_error("choices", f"Options listed twice: {', '.join(repeated)}.")
            cleaned["choices"] = "\n".join(options)
        elif options:
            self.add_error(
                "choices",
                "Only choice questions have options: clear them or make it a choice question.",
            )
        return cleaned


@admin.register(Question, site=tenant_admin_site)
class QuestionAdmin(AuditedAdmin):
    form = QuestionForm
    audit_name = "question"
    list_display = ["label", "key", "field_type", "required", "position", "is_active"]
    list_filter = ["field_type", "is_active"]
    search_fields = ["label", "key"]
    ordering = ["position", "label"]
    prepopulated_fields = {"key": ["label"]}
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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Answers are stored under the key: renaming it would orphan them.
        if obj is not None and Application.objects.filter(answers__has_key=obj.key).exists():
            return ["key"]
        return []

    def get_prepopulated_fields(self, request: HttpRequest, obj: Any = None) -> dict[str, Any]:
        return {} if "key" in self.get_readonly_fields(request, obj) else self.prepopulated_fields


@admin.register(VettingCheck, site=tenant_admin_site)
class VettingCheckAdmin(AuditedAdmin):
    audit_name = "vetting_check"
    list_display = ["name", "required", "position", "is_active", "times_ticked"]
    list_editable = ["position", "is_active"]
    list_filter = ["required", "is_active"]
    search_fields = ["name"]
    ordering = ["position", "name"]
    fields = ["name", "description", "required", "position", "is_active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        ticked = (
            ApplicationCheck.objects.filter(check_item=models.OuterRef("pk"))
            .order_by()
            .values("check_item")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(ticked_total=models.functions.Coalesce(models.Subquery(ticked), 0))
        )

    @admin.display(description="ticked on applications", ordering="ticked_total")
    def times_ticked(self, obj: Any) -> int:
        return obj.ticked_total

    # A check ticked on an application is protected (the delete page says
    # so): deactivate it instead; the applications keep their record.


class AssignmentRuleForm(forms.ModelForm):
    partner_types = forms.TypedMultipleChoiceField(
        choices=Partner.Type.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Leave all unticked to match every partner type.",
    )


@admin.register(AssignmentRule, site=tenant_admin_site)
class AssignmentRuleAdmin(AuditedAdmin):
    form = AssignmentRuleForm
    audit_name = "assignment_rule"
    list_display = ["priority", "name", "is_active", "conditions", "manager_column"]
    list_display_links = ["name"]
    list_editable = ["priority", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    ordering = ["priority", "name"]
    user_fk_roles = {"manager": (Role.CHANNEL_MANAGER,)}
    formfield_overrides = {
        **TenantModelAdmin.formfield_overrides,
        models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple},
    }
    fieldsets = [
        (None, {"fields": ["name", "priority", "is_active"]}),
        (
            "Conditions (all given ones must match; empty matches anything)",
            {"fields": ["regions", "countries", "partner_types"]},
        ),
        ("Who gets the new partner", {"fields": ["manager"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        active = Membership.objects.filter(
            user_id=models.OuterRef("manager_id"),
            role=Role.CHANNEL_MANAGER,
            is_active=True,
            user__is_active=True,
        )
        return (
            super()
            .get_queryset(request)
            .select_related("manager")
            .prefetch_related("regions")
            .annotate(manager_active=models.Exists(active))
        )

    @admin.display(description="conditions")
    def conditions(self, obj: AssignmentRule) -> str:
        parts = []
        regions = [str(r) for r in obj.regions.all()]
        if regions:
            parts.append("regions " + ", ".join(regions))
        if obj.countries:
            parts.append("countries " + ", ".join(c.code for c in obj.countries))
        if obj.partner_types:
            labels = dict(Partner.Type.choices)
            parts.append("types " + ", ".join(str(labels.get(t, t)) for t in obj.partner_types))
        return "; ".join(parts) or "anything"

    @admin.display(description="channel manager", ordering="manager__email")
    def manager_column(self, obj: Any) -> str:
        if obj.manager_active:
            return str(obj.manager)
        return format_html(
            '{} <span class="chip chip-bad dr-tag">not an active channel manager</span>',
            str(obj.manager),
        )
