"""Allocations in the tenant admin: the list (filters by budget, fund
type, period, partner, expiring funds), adding by hand through
``funds.allocate``, an allocation's page with its history and the forms
that change its amount or move unspent funds (``funds.set_allocation_amount``,
``funds.move_funds``), and the CSV import of a budget's allocations
(``allocation_import``: dry run, then all or nothing)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect

from partners.admin_filters import PartnerFilter
from prm import format as fmt
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    ServiceFormsAdmin,
    tenant_admin_site,
)
from prm.tenancy.admin_filters import ChosenObjectFilter
from prm.tenancy.csv_import import CsvImporter, CsvImportMixin
from prm.tenancy.drill import MetricRowsFilter
from prm.tenancy.errors import add_service_error
from prm.tenancy.requests import MemberRequest, as_member, tenant_of

from . import admin_forms, allocation_import, funds
from .admin_funds import MoneyColumns, add_page, budget_of_query, choose_budget, money_text
from .errors import MdfError
from .models import Allocation, AllocationChange, Budget, FundType

# --- Allocations -------------------------------------------------------------------------


class BudgetFilter(ChosenObjectFilter):
    title = "budget"
    parameter_name = "budget"
    field = "budget_id"

    def candidates(self, request: HttpRequest, model_admin: Any) -> QuerySet[Any]:
        return Budget.objects.select_related("fund_type", "region", "tier").order_by(
            "-starts_on", "fund_type__name"
        )

    def chosen(self, pk: uuid.UUID) -> Budget | None:
        return Budget.objects.select_related("fund_type", "region", "tier").filter(pk=pk).first()


class AllocationFundTypeFilter(admin.SimpleListFilter):
    title = "fund type"
    parameter_name = "fund_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(str(pk), name) for pk, name in FundType.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if value not in dict(self.lookup_choices):
            return queryset.none()
        return queryset.filter(budget__fund_type_id=value)


class PeriodFilter(admin.SimpleListFilter):
    """The budgets' periods (by their first and last day)."""

    title = "period"
    parameter_name = "period"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        found = Budget.objects.order_by("-starts_on").values_list("starts_on", "ends_on")
        return [
            (f"{start:%Y-%m-%d}_{end:%Y-%m-%d}", f"{fmt.day(start)} to {fmt.day(end)}")
            for start, end in dict.fromkeys(found)
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        start, _, end = str(value).partition("_")
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:  # a period that is no dates lists nothing
            return queryset.none()
        return queryset.filter(budget__starts_on=first, budget__ends_on=last)


class ExpiringFilter(admin.SimpleListFilter):
    """Allocations with unused funds whose period ends within 30 days."""

    title = "unused funds"
    parameter_name = "expiring"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("30", "Expiring within 30 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() != "30":
            return queryset
        today = tenant_of(request).local_today()
        return queryset.filter(
            budget__ends_on__gte=today,
            budget__ends_on__lte=today + timedelta(days=30),
            amount__gt=F("reserved") + F("claimed") + F("expired"),
        )


class AllocationImporter(CsvImporter):
    noun = "allocations"
    columns = allocation_import.CSV_COLUMNS
    required_columns = allocation_import.REQUIRED_COLUMNS
    template = "admin/mdf/allocation/import.html"

    def __init__(self, request: MemberRequest) -> None:
        super().__init__(request)
        self.budget = budget_of_query(request)

    def allowed(self) -> bool:
        return self.membership.has_perm("mdf.import_allocation")

    def check(self, text: str) -> allocation_import.AllocationImportResult:
        return allocation_import.parse_allocations_csv(self.budget, text)

    def apply(self, text: str) -> allocation_import.AllocationImportResult:
        return allocation_import.import_allocations(self.budget, text, by=self.membership)

    def success_message(self, result: Any) -> str:
        return (
            f"Allocated {money_text(result.total, self.budget.currency)} of {self.budget} to "
            f"{fmt.plural(result.created, 'partner')}."
        )

    def context(self) -> dict[str, Any]:
        return {"budget": self.budget, "left": self.budget.amount - self.budget.allocated}


@admin.register(Allocation, site=tenant_admin_site)
class AllocationAdmin(CsvImportMixin, ActionFormsMixin, MoneyColumns, ServiceFormsAdmin):
    csv_importer = AllocationImporter
    list_display = [
        "partner",
        "budget",
        "amount_col",
        "available_col",
        "reserved_col",
        "claimed_col",
        "expired_col",
        "source",
    ]
    list_display_links = ["partner"]
    list_filter = [
        MetricRowsFilter,
        BudgetFilter,
        AllocationFundTypeFilter,
        PeriodFilter,
        PartnerFilter,
        ExpiringFilter,
        "source",
    ]
    list_select_related = ["partner", "budget__fund_type", "budget__region", "budget__tier"]
    search_fields = ["partner__name"]
    ordering = ["-budget__starts_on", "partner__name"]
    change_form_template = "admin/mdf/allocation/change_form.html"
    fieldsets = [(None, {"fields": ["partner", "budget", "source", "created_at"]})]
    action_forms = {"amount": admin_forms.AmountForm, "move": admin_forms.MoveFundsForm}
    action_errors = MdfError

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/mdf.css"]}

    def import_view(self, request: MemberRequest) -> HttpResponse:
        if "budget" not in request.GET:
            if not request.membership.has_perm("mdf.import_allocation"):
                raise PermissionDenied
            return choose_budget(self, request, "Import allocations from CSV")
        return super().import_view(request)

    def _preview_key(self, request: MemberRequest, token: str) -> str:
        # A checked file is confirmed into the budget it was checked against.
        return f"{super()._preview_key(request, token)}:{request.GET.get('budget', '')}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(available_total=F("amount") - F("reserved") - F("claimed") - F("expired"))
        )

    def _col(self, obj: Any, name: str) -> str:
        return money_text(getattr(obj, name), obj.budget.currency)

    @admin.display(description="amount", ordering="amount")
    def amount_col(self, obj: Allocation) -> str:
        return self._col(obj, "amount")

    @admin.display(description="available", ordering="available_total")
    def available_col(self, obj: Allocation) -> str:
        return self._col(obj, "available_total")

    @admin.display(description="reserved", ordering="reserved")
    def reserved_col(self, obj: Allocation) -> str:
        return self._col(obj, "reserved")

    @admin.display(description="claimed", ordering="claimed")
    def claimed_col(self, obj: Allocation) -> str:
        return self._col(obj, "claimed")

    @admin.display(description="expired", ordering="expired")
    def expired_col(self, obj: Allocation) -> str:
        return self._col(obj, "expired")

    # Adding by hand: funds.allocate

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        tenant = tenant_of(request)
        initial = {"budget": request.GET.get("budget")}
        form = admin_forms.AllocateForm(tenant=tenant, initial=initial)
        if request.method == "POST":
            form = admin_forms.AllocateForm(request.POST, tenant=tenant)
            if form.is_valid():
                data = form.cleaned_data
                data["budget"].tenant = tenant
                try:
                    allocation = funds.allocate(
                        data["budget"],
                        data["partner"],
                        data["amount"],
                        by=as_member(request).membership,
                        reason=data["reason"],
                    )
                except MdfError as error:
                    add_service_error(form, error)
                else:
                    now_has = money_text(allocation.amount, tenant.base_currency)
                    messages.success(
                        request, f"{data['partner']} now has {now_has} of {data['budget']}."
                    )
                    return redirect("tenant_admin:mdf_allocation_change", allocation.pk)
        return add_page(
            self,
            request,
            form,
            "Allocate funds to a partner",
            extra_context,
            intro="The amount is added to what the partner already has of the budget; a budget "
            "is never allocated past its amount.",
        )

    # The change page: history, the amount and "move unspent funds"

    def action_allowed(self, request: HttpRequest, action: str, obj: Allocation) -> bool:
        # Not object-scoped (mdf.declare): whoever may change allocations may change each.
        return as_member(request).membership.has_perm("mdf.change_allocation")

    def make_action_form(
        self, request: HttpRequest, action: str, obj: Allocation, data: QueryDict | None = None
    ) -> Form:
        if action == "move":
            return admin_forms.MoveFundsForm(
                data, prefix=action, tenant=tenant_of(request), exclude=obj.partner_id
            )
        form = admin_forms.AmountForm(data, prefix=action)
        form.fields["amount"].initial = obj.amount
        return form

    def run_action(self, request: HttpRequest, action: str, obj: Allocation, form: Any) -> str:
        by, data = as_member(request).membership, form.cleaned_data
        obj.tenant = tenant_of(request)
        if action == "move":
            funds.move_funds(obj, data["partner"], data["amount"], by=by, reason=data["reason"])
            return f"Moved {money_text(data['amount'], obj.budget.currency)} to {data['partner']}."
        funds.set_allocation_amount(obj, data["amount"], by=by, reason=data["reason"])
        return f"The allocation is now {money_text(data['amount'], obj.budget.currency)}."

    def action_page_context(
        self, request: HttpRequest, obj: Allocation, bound: dict[str, Form]
    ) -> dict[str, Any]:
        offered = set(self.action_forms)
        if obj.available <= 0 or obj.budget.ends_on < tenant_of(request).local_today():
            offered.discard("move")
        return {
            "allocation": obj,
            "changes": AllocationChange.objects.filter(allocation=obj)
            .select_related("actor", "request")
            .order_by("-created_at", "-id"),
            "forms": self.action_page_forms(request, obj, bound, offered),
        }
