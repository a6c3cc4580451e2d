"""Budgets and allocations in the tenant admin.

Money is never saved through a model form here: the add pages are plain
forms whose data go to ``funds.create_budget`` / ``funds.allocate``, and a
budget's or an allocation's page is read-only with forms that post a named
``_action`` to ``funds.set_budget_amount``, ``funds.set_allocation_amount``
or ``funds.move_funds`` (ActionFormsMixin). A budget is allocated by a rule
(a plan shown first, then ``funds.apply_plan``) or from a CSV file
(``allocation_import``, dry run first, all or nothing).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from partners.admin_filters import PartnerFilter
from prm import format as fmt
from prm.tenancy.admin_base import ActionFormsMixin, TenantModelAdmin, tenant_admin_site
from prm.tenancy.admin_filters import ChosenObjectFilter
from prm.tenancy.csv_import import CsvImporter, CsvImportMixin
from prm.tenancy.errors import add_service_error
from prm.tenancy.requests import MemberRequest, as_member, tenant_of

from . import admin_forms, allocation_import, funds
from .errors import MdfError
from .models import Allocation, AllocationChange, Budget, FundType, Reimbursement

ZERO = Decimal("0")
MONEY_OUT = DecimalField(max_digits=14, decimal_places=2)


def _sum(model: Any, column: str, link: str, **where: Any) -> Coalesce:
    """The sum of ``column`` over ``model`` rows whose ``link`` is the outer
    row: a subquery, so several sums never multiply each other's rows."""
    rows = (
        model.objects.filter(**{link: OuterRef("pk")}, **where)
        .order_by()
        .values(link)
        .annotate(total=Sum(column))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=MONEY_OUT), Value(ZERO), output_field=MONEY_OUT)


def _money(amount: Decimal | None, currency: str) -> str:
    return fmt.money(amount if amount is not None else ZERO, currency)


class MoneyColumns:
    """Amount columns that read annotated totals in the base currency."""

    def _col(self, obj: Any, name: str) -> str:
        return _money(getattr(obj, name), obj.currency)


# --- Budgets ---------------------------------------------------------------------------


@admin.register(Budget, site=tenant_admin_site)
class BudgetAdmin(ActionFormsMixin, MoneyColumns, TenantModelAdmin):
    list_display = [
        "budget",
        "scope",
        "amount_col",
        "allocated_col",
        "reserved_col",
        "claimed_col",
        "paid_col",
        "expired_col",
        "unallocated_col",
    ]
    list_display_links = ["budget"]
    list_filter = ["fund_type", "span", "fiscal_year", "region", "tier"]
    list_select_related = ["fund_type", "region", "tier"]
    ordering = ["-starts_on", "fund_type__name"]
    add_form_template = "admin/mdf/add_form.html"
    change_form_template = "admin/mdf/budget/change_form.html"
    fieldsets = [
        (None, {"fields": ["fund_type", "period", "region", "tier", "notes", "created_by"]}),
    ]
    action_forms = {"amount": admin_forms.AmountForm}
    action_errors = MdfError

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/mdf.css"]}

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # through the page's forms (the services)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        link = "budget"
        return (
            super()
            .get_queryset(request)
            .annotate(
                reserved_total=_sum(Allocation, "reserved", link),
                claimed_total=_sum(Allocation, "claimed", link),
                expired_total=_sum(Allocation, "expired", link),
                paid_total=_sum(
                    Reimbursement,
                    "amount",
                    "claim__request__allocation__budget",
                    entry__settlement__paid_on__isnull=False,
                ),
                unallocated_total=F("amount") - F("allocated"),
            )
        )

    # Columns

    @admin.display(description="budget", ordering="starts_on")
    def budget(self, obj: Budget) -> str:
        return format_html("<strong>{}</strong> {}", obj.fund_type.name, obj.period_label)

    @admin.display(description="period")
    def period(self, obj: Budget) -> str:
        return f"{obj.period_label}: {fmt.day(obj.starts_on)} to {fmt.day(obj.ends_on)}"

    @admin.display(description="region · tier")
    def scope(self, obj: Budget) -> str:
        return " · ".join(str(x) for x in (obj.region, obj.tier) if x is not None) or "all"

    @admin.display(description="amount", ordering="amount")
    def amount_col(self, obj: Budget) -> str:
        return _money(obj.amount, obj.currency)

    @admin.display(description="allocated", ordering="allocated")
    def allocated_col(self, obj: Budget) -> str:
        return _money(obj.allocated, obj.currency)

    @admin.display(description="reserved", ordering="reserved_total")
    def reserved_col(self, obj: Any) -> str:
        return self._col(obj, "reserved_total")

    @admin.display(description="claimed", ordering="claimed_total")
    def claimed_col(self, obj: Any) -> str:
        return self._col(obj, "claimed_total")

    @admin.display(description="paid", ordering="paid_total")
    def paid_col(self, obj: Any) -> str:
        return self._col(obj, "paid_total")

    @admin.display(description="expired", ordering="expired_total")
    def expired_col(self, obj: Any) -> str:
        return self._col(obj, "expired_total")

    @admin.display(description="unallocated", ordering="unallocated_total")
    def unallocated_col(self, obj: Any) -> str:
        return self._col(obj, "unallocated_total")

    # Adding: funds.create_budget

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        tenant = tenant_of(request)
        form = admin_forms.BudgetForm(tenant=tenant)
        if request.method == "POST":
            form = admin_forms.BudgetForm(request.POST, tenant=tenant)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    budget = funds.create_budget(
                        tenant,
                        by=as_member(request).membership,
                        fund_type=data["fund_type"],
                        span=data["span"],
                        fiscal_year=data["fiscal_year"],
                        number=data["number"],
                        amount=data["amount"],
                        region=data["region"],
                        tier=data["tier"],
                        notes=data["notes"],
                    )
                except MdfError as error:
                    add_service_error(form, error)
                else:
                    messages.success(request, f"Budget {budget} created.")
                    return redirect("tenant_admin:mdf_budget_change", budget.pk)
        return _add_page(self, request, form, "Add a budget", extra_context)

    # The change page: allocations, totals and the amount form

    def action_allowed(self, request: HttpRequest, action: str, obj: Budget) -> bool:
        return as_member(request).membership.has_perm("mdf.change_budget", obj)

    def make_action_form(
        self, request: HttpRequest, action: str, obj: Budget, data: QueryDict | None = None
    ) -> Form:
        form = admin_forms.AmountForm(data, prefix=action)
        form.fields["amount"].initial = obj.amount
        return form

    def run_action(self, request: HttpRequest, action: str, obj: Budget, form: Any) -> str:
        data = form.cleaned_data
        funds.set_budget_amount(
            obj, data["amount"], by=as_member(request).membership, reason=data["reason"]
        )
        return f"The budget is now {_money(data['amount'], obj.currency)}."

    def action_page_context(
        self, request: HttpRequest, obj: Budget, bound: dict[str, Form]
    ) -> dict[str, Any]:
        membership = as_member(request).membership
        allocations = list(
            Allocation.objects.filter(budget=obj)
            .select_related("partner")
            .order_by("partner__name")
        )
        allocation_list = reverse("tenant_admin:mdf_allocation_changelist")
        return {
            "budget": obj,
            "allocations": allocations,
            "totals": funds.totals(allocations),
            "forms": self.action_page_forms(request, obj, bound),
            "is_open": obj.ends_on >= tenant_of(request).local_today(),
            "can_allocate": membership.has_perm("mdf.add_allocation"),
            "can_import": membership.has_perm("mdf.import_allocation"),
            "rule_url": reverse("tenant_admin:mdf_budget_rule") + f"?budget={obj.pk}",
            "import_url": reverse("tenant_admin:mdf_allocation_import") + f"?budget={obj.pk}",
            "add_url": reverse("tenant_admin:mdf_allocation_add") + f"?budget={obj.pk}",
            "allocations_url": f"{allocation_list}?budget={obj.pk}",
        }

    # Allocation by a rule

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("allocate-by-rule/", wrap(self.rule_view), name="mdf_budget_rule"),
            *super().get_urls(),
        ]

    def rule_view(self, request: HttpRequest) -> HttpResponse:
        """Of the budget ``?budget=<id>`` (without one: which budget?). The
        rule's plan first (a dry run: who gets what, who is left out and
        why); "Allocate" applies the same plan, all or nothing."""
        membership = as_member(request).membership
        if not membership.has_perm("mdf.add_allocation"):
            raise PermissionDenied
        if "budget" not in request.GET:
            return choose_budget(self, request, "Allocate a budget by a rule")
        budget = budget_of_query(request)
        tenant = tenant_of(request)
        form = admin_forms.RuleForm(tenant=tenant, budget=budget)
        plan = None
        if request.method == "POST":
            form = admin_forms.RuleForm(request.POST, tenant=tenant, budget=budget)
            if form.is_valid():
                if form.cleaned_data["rule"] == form.PER_TIER:
                    plan = funds.plan_per_tier(budget, form.tier_amounts())
                else:
                    plan = funds.plan_revenue_share(budget, form.cleaned_data["total"])
                if "apply" in request.POST:
                    try:
                        done = funds.apply_plan(
                            budget,
                            plan,
                            by=membership,
                            reason=form.cleaned_data["reason"] or "Allocation rule",
                        )
                    except MdfError as error:
                        # The rule as a whole: above the form, where the plan is.
                        field = error.field if error.field in ("total",) else None
                        form.add_error(field, str(error))
                    else:
                        messages.success(
                            request,
                            f"Allocated {_money(plan.total, budget.currency)} to "
                            f"{fmt.plural(len(done), 'partner')}.",
                        )
                        return redirect("tenant_admin:mdf_budget_change", budget.pk)
        left = budget.amount - budget.allocated
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": budget,
            "budget": budget,
            "title": f"Allocate {budget} by a rule",
            "form": form,
            "plan": plan,
            "left": left,
            "too_much": plan is not None and plan.total > left,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/mdf/budget/allocate_rule.html", context)


def choose_budget(model_admin: Any, request: HttpRequest, title: str) -> TemplateResponse:
    """Which budget? The open ones, each a link to this page for it."""
    today = tenant_of(request).local_today()
    budgets = Budget.objects.filter(ends_on__gte=today).select_related(
        "fund_type", "region", "tier"
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "budgets": budgets.order_by("starts_on", "fund_type__name"),
        "media": model_admin.media,
    }
    return TemplateResponse(request, "admin/mdf/choose_budget.html", context)


def _add_page(
    model_admin: Any,
    request: HttpRequest,
    form: Form,
    title: str,
    extra_context: dict[str, Any] | None,
    intro: str = "",
) -> TemplateResponse:
    opts = model_admin.opts
    context = {
        **model_admin.admin_site.each_context(request),
        **(extra_context or {}),
        "opts": opts,
        "title": title,
        "form": form,
        "intro": intro,
        "changelist_url": reverse(f"tenant_admin:{opts.app_label}_{opts.model_name}_changelist"),
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/mdf/add_form.html", context)


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
            f"Allocated {_money(result.total, self.budget.currency)} of {self.budget} to "
            f"{fmt.plural(result.created, 'partner')}."
        )

    def context(self) -> dict[str, Any]:
        return {"budget": self.budget, "left": self.budget.amount - self.budget.allocated}


def budget_of_query(request: HttpRequest) -> Budget:
    """The budget named by ``?budget=<id>`` (404 if the tenant has none)."""
    try:
        pk = uuid.UUID(request.GET.get("budget", ""))
    except ValueError:
        raise Http404("Choose a budget to import allocations into.") from None
    budget = Budget.objects.filter(tenant=tenant_of(request), pk=pk).first()
    if budget is None:
        raise Http404("No such budget.")
    budget.tenant = tenant_of(request)
    return budget


@admin.register(Allocation, site=tenant_admin_site)
class AllocationAdmin(CsvImportMixin, ActionFormsMixin, MoneyColumns, TenantModelAdmin):
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
    list_filter = [BudgetFilter, AllocationFundTypeFilter, PeriodFilter, PartnerFilter, "source"]
    list_select_related = ["partner", "budget__fund_type", "budget__region", "budget__tier"]
    search_fields = ["partner__name"]
    ordering = ["-budget__starts_on", "partner__name"]
    change_form_template = "admin/mdf/allocation/change_form.html"
    fieldsets = [(None, {"fields": ["partner", "budget", "source", "created_at"]})]
    action_forms = {"amount": admin_forms.AmountForm, "move": admin_forms.MoveFundsForm}
    action_errors = MdfError

    class Media:
        css = {"all": ["admin/dealreg.css", "admin/mdf.css"]}

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # through the page's forms (the services)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

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
        return _money(getattr(obj, name), obj.budget.currency)

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
                    now_has = _money(allocation.amount, tenant.base_currency)
                    messages.success(
                        request, f"{data['partner']} now has {now_has} of {data['budget']}."
                    )
                    return redirect("tenant_admin:mdf_allocation_change", allocation.pk)
        return _add_page(
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
        return as_member(request).membership.has_perm("mdf.change_allocation", obj)

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
            return f"Moved {_money(data['amount'], obj.budget.currency)} to {data['partner']}."
        funds.set_allocation_amount(obj, data["amount"], by=by, reason=data["reason"])
        return f"The allocation is now {_money(data['amount'], obj.budget.currency)}."

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
