"""Exchange rates in the tenant admin (entered one at a time or imported
from a CSV file, both through services) and the tenant's payout settings."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from prm.tenancy.admin_base import (
    SettingsRowAdmin,
    TenantModelAdmin,
    tenant_admin_site,
)
from prm.tenancy.csv_import import CsvImporter, CsvImportMixin
from prm.tenancy.requests import MemberRequest, as_member, tenant_of

from . import admin_forms, ledger, rate_import, rates
from .models import (
    ExchangeRate,
    IncentiveSettings,
)


class _Refused(Exception):
    """A save the service refused after the form validated (a race)."""


# --- Exchange rates ------------------------------------------------------------------


class RateImporter(CsvImporter):
    noun = "exchange rates"
    columns = rate_import.CSV_COLUMNS
    template = "admin/incentives/exchangerate/import.html"
    help_text = (
        "Columns: currency, valid_from, rate (one unit of the currency in the base currency)."
    )

    def __init__(self, request: MemberRequest) -> None:
        super().__init__(request)
        self.may_add = self.membership.has_perm("incentives.add_exchangerate")
        # Updating an existing rate needs the change permission as well.
        self.may_update = self.membership.has_perm("incentives.change_exchangerate")

    def allowed(self) -> bool:
        return self.may_add

    def check(self, text: str) -> rate_import.RateImportResult:
        return rate_import.parse_rates_csv(self.tenant, text, may_update=self.may_update)

    def apply(self, text: str) -> rate_import.RateImportResult:
        return rate_import.import_rates(
            tenant=self.tenant, by=self.user, text=text, may_update=self.may_update
        )

    def success_message(self, result: Any) -> str:
        return f"Imported {result.created} new and updated {result.updated} exchange rates."

    def context(self) -> dict:
        return {"base_currency": self.tenant.base_currency}


@admin.register(ExchangeRate, site=tenant_admin_site)
class ExchangeRateAdmin(CsvImportMixin, TenantModelAdmin):
    csv_importer = RateImporter
    form = admin_forms.ExchangeRateForm
    list_display = ["currency", "valid_from", "rate", "created_by", "created_at"]
    list_filter = ["currency"]
    list_select_related = ["created_by"]
    search_fields = ["=currency"]
    ordering = ["currency", "-valid_from"]
    change_list_template = "admin/incentives/exchangerate/change_list.html"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        fields = ["currency", "valid_from", "rate"]
        return fields if obj is None else [*fields, "created_by", "created_at"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Any = None
    ) -> list[str] | tuple[str, ...]:
        return [] if obj is None else ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.tenant = tenant_of(request)
        elif obj.tenant_id != tenant_of(request).pk:
            raise PermissionDenied
        try:
            rates.save_rate(obj, by=as_member(request).user, changed=list(form.changed_data))
        except ledger.IncentiveError as error:
            raise _Refused(str(error)) from None

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        rates.delete_rate(obj, by=as_member(request).user)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _Refused as refused:
            # Everything was rolled back (a rate for the same day saved
            # meanwhile, e.g. the same form sent twice at once).
            messages.error(request, str(refused))
            return redirect(request.path)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_import": self.has_add_permission(request),
            "base_currency": tenant_of(request).base_currency,
        }
        return super().changelist_view(request, extra_context)


# --- Settings ------------------------------------------------------------------------


@admin.register(IncentiveSettings, site=tenant_admin_site)
class IncentiveSettingsAdmin(SettingsRowAdmin):
    audit_action = "incentives.settings_changed"
    fieldsets = [
        ("Statements", {"fields": ["statement_period", "partner_users_see_statements"]}),
        (
            "Payouts",
            {
                "fields": [
                    "holding_days",
                    "minimum_payout",
                    "payout_target_days",
                    "payout_maker_checker",
                ]
            },
        ),
    ]
