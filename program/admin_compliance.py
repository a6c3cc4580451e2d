"""Compliance reviews in the tenant admin.

The policy (ops): whether reviews run, how often, the time to complete,
whether a tax document is asked for and whether being out of compliance
blocks new deal registrations. Custom items (ops): label, help text, an
attestation or a file.

Reviews: the list every staff role reads, with filters for the status,
overdue reviews (partners out of compliance), "my partners" and the
partner, and the drill of the "Partners out of compliance" metric. A
review's page is read-only: the automatic items as submitted and as they
stand today, the partner's answers and files; on a submitted review the
partner's channel manager (only their own partners': ``object_scoped``)
and ops sign it off or return it with a reason (``compliance.sign_off`` /
``compliance.return_review``). Reviews are opened by the daily round,
never by hand.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import BooleanField, Case, QuerySet, Value, When
from django.forms import Form
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils.html import format_html

from partners.admin_filters import MyPartnersFilter, PartnerFilter
from prm import format as fmt
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    ServiceFormsAdmin,
    SettingsRowAdmin,
    TenantModelAdmin,
    admin_url,
    audit_form_changes,
    tenant_admin_site,
)
from prm.tenancy.drill import MetricRowsFilter
from prm.tenancy.requests import as_member, tenant_of

from . import compliance, compliance_checks
from .errors import ProgramError
from .forms_compliance import ReturnForm, SignOffForm
from .models import ComplianceItem, ComplianceReview, ComplianceSettings

Status = ComplianceReview.Status


@admin.register(ComplianceSettings, site=tenant_admin_site)
class ComplianceSettingsAdmin(SettingsRowAdmin):
    audit_action = "program.compliance_settings_changed"
    fieldsets = [
        ("Reviews", {"fields": ["enabled", "interval_months", "complete_within_days"]}),
        ("Checklist", {"fields": ["tax_document_required"]}),
        ("Out of compliance", {"fields": ["blocks_registrations"]}),
    ]


@admin.register(ComplianceItem, site=tenant_admin_site)
class ComplianceItemAdmin(TenantModelAdmin):
    list_display = ["label", "kind", "position", "is_active"]
    list_filter = ["kind", "is_active"]
    list_editable = ["position"]
    search_fields = ["label"]
    fields = ["label", "help_text", "kind", "position", "is_active"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        action = "changed" if change else "added"
        audit_form_changes(request, obj, form, f"program.compliance_item_{action}")


class StateFilter(admin.SimpleListFilter):
    title = "compliance"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("overdue", "Overdue (out of compliance)"), ("current", "Unfinished, not due")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = tenant_of(request).local_today()
        if self.value() == "overdue":
            return queryset.filter(compliance.overdue_q(today))
        if self.value() == "current":
            return queryset.filter(status__in=ComplianceReview.UNFINISHED, due_on__gte=today)
        return queryset


TONES = {
    Status.OPEN: "info",
    Status.SUBMITTED: "warn",
    Status.RETURNED: "warn",
    Status.SIGNED_OFF: "ok",
}


@admin.register(ComplianceReview, site=tenant_admin_site)
class ComplianceReviewAdmin(ActionFormsMixin, ServiceFormsAdmin):
    # Part of the partner: deleting the partner deletes these with it.
    deleted_with_partner = True
    list_display = ["partner_name", "period", "due", "status_chip", "channel_manager"]
    list_display_links = ["partner_name"]
    list_filter = [MetricRowsFilter, StateFilter, "status", MyPartnersFilter, PartnerFilter]
    list_select_related = ["partner__channel_manager"]
    search_fields = ["partner__name"]
    fieldsets = [
        (None, {"fields": ["opens_on", "due_on", "status", "submitted_at", "signed_off_at"]}),
    ]
    change_form_template = "admin/program/compliance_review.html"

    class Media:
        css = {"all": ["admin/dealreg.css"]}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="partner", ordering="partner__name")
    def partner_name(self, obj: ComplianceReview) -> str:
        return obj.partner.name

    @admin.display(description="due", ordering="due_on")
    def due(self, obj: ComplianceReview) -> str:
        if getattr(obj, "overdue", False):
            return format_html(
                '{} <span class="chip chip-bad" data-testid="overdue">overdue</span>',
                fmt.day(obj.due_on),
            )
        return fmt.day(obj.due_on)

    @admin.display(description="status", ordering="status")
    def status_chip(self, obj: ComplianceReview) -> str:
        return format_html(
            '<span class="chip chip-{}">{}</span>',
            TONES[Status(obj.status)],
            obj.get_status_display(),
        )

    @admin.display(description="channel manager", ordering="partner__channel_manager__email")
    def channel_manager(self, obj: ComplianceReview) -> str:
        return str(obj.partner.channel_manager or "-")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        today = tenant_of(request).local_today()
        overdue = Case(
            When(compliance.overdue_q(today), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
        return (
            super()
            .get_queryset(request)
            .select_related("partner__tier", "partner__tenant")
            .annotate(overdue=overdue)
        )

    # The review's page: sign off or return a submitted one

    action_forms = {"sign_off": SignOffForm, "return": ReturnForm}
    action_errors = ProgramError

    def action_allowed(self, request: HttpRequest, action: str, obj: ComplianceReview) -> bool:
        membership = as_member(request).membership
        return obj.status == Status.SUBMITTED and membership.has_perm(
            compliance.DECIDE_PERM, obj.partner
        )

    def make_action_form(
        self,
        request: HttpRequest,
        action: str,
        obj: ComplianceReview,
        data: QueryDict | None = None,
    ) -> Form:
        return self.action_forms[action](data, prefix=action)

    def run_action(
        self, request: HttpRequest, action: str, obj: ComplianceReview, form: Any
    ) -> str:
        by = as_member(request).membership
        if action == "sign_off":
            compliance.sign_off(obj, by=by, note=form.cleaned_data["note"])
            return f"{obj.partner.name}'s compliance review is signed off."
        compliance.return_review(obj, by=by, reason=form.cleaned_data["reason"])
        return f"{obj.partner.name}'s compliance review is returned with your reason."

    def action_page_context(
        self, request: HttpRequest, obj: ComplianceReview, bound: dict[str, Form]
    ) -> dict[str, Any]:
        today = tenant_of(request).local_today()
        answers = list(obj.answers.select_related("item", "answered_by"))
        return {
            "review": obj,
            "overdue": obj.is_overdue(today),
            "checks_now": compliance_checks.automatic(obj, today),
            "answers": [
                (
                    a,
                    reverse("program:compliance_answer_file", args=[a.pk]) if a.file else "",
                )
                for a in answers
            ],
            "tax_url": reverse("program:compliance_tax_file", args=[obj.pk]) if obj.file else "",
            "partner_url": admin_url(obj.partner),
            "forms": self.action_page_forms(request, obj, bound),
        }
