"""Budgets in the tenant admin, and what the allocation pages share.

Money is never saved through a model form in the MDF admin: the add pages
are plain forms whose data go to ``funds.create_budget`` /
``funds.allocate``, and a budget's or an allocation's page is read-only
with forms that post a named ``_action`` to ``funds.set_budget_amount``,
``funds.set_allocation_amount`` or ``funds.move_funds``
(ActionFormsMixin). A budget's list shows its totals from one query; a
budget is allocated by a rule (a plan shown first, then
``funds.apply_plan``) or from a CSV file (``admin_allocations``).
"""

from __future__ import annotations

import uuid
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

from prm import format as fmt
from prm.tenancy.admin_base import (
    ActionFormsMixin,
    ServiceFormsAdmin,
    tenant_admin_site,
)
from prm.tenancy.errors import add_service_error
from prm.tenancy.requests import as_member, tenant_of

from . import admin_forms, funds
from .errors import MdfError
from .models import Allocation, Budget, Reimbursement

ZERO = Decimal("0")
MONEY_OUT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=14, decimal_places=2)


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


def money_text(amount: Decimal | None, currency: str) -> str:
    return fmt.money(amount if amount is not None else ZERO, currency)


class MoneyColumns:
    """Amount columns that read annotated totals in the base currency."""

    def _col(self, obj: Any, name: str) -> str:
        return money_text(getattr(obj, name), obj.currency)


# --- Budgets ---------------------------------------------------------------------------


class BudgetStateFilter(admin.SimpleListFilter):
    title = "period"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("open", "Open (not ended)"), ("ended", "Ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = tenant_of(request).local_today()
        if self.value() == "open":
            return queryset.filter(ends_on__gte=today)
        if self.value() == "ended":
            return queryset.filter(ends_on__lt=today)
        return queryset


@admin.register(Budget, site=tenant_admin_site)
class BudgetAdmin(ActionFormsMixin, MoneyColumns, ServiceFormsAdmin):
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
    list_filter = [BudgetStateFilter, "fund_type", "span", "fiscal_year", "region", "tier"]
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
        return money_text(obj.amount, obj.currency)

    @admin.display(description="allocated", ordering="allocated")
    def allocated_col(self, obj: Budget) -> str:
        return money_text(obj.allocated, obj.currency)

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
        return add_page(self, request, form, "Add a budget", extra_context)

    # The change page: allocations, totals and the amount form

    def action_allowed(self, request: HttpRequest, action: str, obj: Budget) -> bool:
        # Not object-scoped (budgets are the vendor's, no partner's): no object to check.
        return as_member(request).membership.has_perm("mdf.change_budget")

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
        return f"The budget is now {money_text(data['amount'], obj.currency)}."

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
                            f"Allocated {money_text(plan.total, budget.currency)} to "
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


def add_page(
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
