"""Forms of the MDF admin: fund types, budgets and allocations (each write
goes through ``mdf.funds``), the rule allocation, and the decision forms
on a fund request's and a claim's page.

Choice querysets are set per request in ``__init__`` (inside the tenant's
scope), never at import.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from partners.models import Partner, Region, Tier
from prm.tenancy.models import Tenant

from . import periods
from .forms import MONEY_FIELD, MoneyField
from .models import ActivityType, Budget, Document, FundType


def _text(
    label: str, *, required: bool = True, help_text: str = "", rows: int = 2
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 60}),
    )


def _amount(
    label: str, *, required: bool = True, help_text: str = "", minimum: str = "0.01"
) -> MoneyField:
    return MoneyField(
        label=label,
        required=required,
        help_text=help_text,
        min_value=Decimal(minimum),
        **MONEY_FIELD,
    )


def _choices(field: forms.Field, queryset: Any) -> None:
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = queryset


# --- Configuration ---------------------------------------------------------------------


class FundTypeForm(forms.ModelForm):
    activity_types = forms.TypedMultipleChoiceField(
        choices=ActivityType.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Eligible activities",
        error_messages={"required": "Tick at least one activity this fund pays for."},
    )
    required_documents = forms.TypedMultipleChoiceField(
        choices=Document.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Documents required at claim time",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        accrual = cleaned.get("funding") == FundType.Funding.ACCRUAL
        if accrual and cleaned.get("accrual_percent") is None:
            self.add_error(
                "accrual_percent", "A co-op fund accrues a share of each won deal: enter it."
            )
        if not accrual and cleaned.get("accrual_percent") is not None:
            self.add_error(
                "accrual_percent",
                "Only co-op (accrued) funds take an accrual %: clear it, or choose "
                "“Accrued from won deals”.",
            )
        return cleaned


# --- Budgets and allocations -------------------------------------------------------------


class BudgetForm(forms.Form):
    fund_type: forms.ModelChoiceField[FundType] = forms.ModelChoiceField(
        queryset=FundType.objects.none()
    )
    span = forms.ChoiceField(choices=Budget.Span.choices, initial=Budget.Span.QUARTER)
    fiscal_year = forms.IntegerField(
        min_value=2000, max_value=2100, help_text="Named after the calendar year it ends in."
    )
    number = forms.IntegerField(
        min_value=1, max_value=4, initial=1, help_text="Quarter 1-4 or half 1-2; 1 for a year."
    )
    region: forms.ModelChoiceField[Region] = forms.ModelChoiceField(
        queryset=Region.objects.none(),
        required=False,
        help_text="Only partners of this region are allocated from it.",
    )
    tier: forms.ModelChoiceField[Tier] = forms.ModelChoiceField(
        queryset=Tier.objects.none(),
        required=False,
        help_text="Only partners of this tier are allocated from it.",
    )
    amount = _amount("Amount", minimum="0")
    notes = _text("Notes", required=False)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["amount"].help_text = f"In {tenant.base_currency}, the base currency."
        _choices(self.fields["fund_type"], FundType.objects.filter(tenant=tenant, active=True))
        _choices(self.fields["region"], Region.objects.filter(tenant=tenant))
        _choices(self.fields["tier"], Tier.objects.filter(tenant=tenant))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None
        span, year, number = cleaned.get("span"), cleaned.get("fiscal_year"), cleaned.get("number")
        if span and year and number:
            try:
                cleaned["dates"] = periods.period_dates(self.tenant, span, year, number)
            except ValueError as error:
                self.add_error("number", f"Choose a valid period: {error}.")
        return cleaned


class AmountForm(forms.Form):
    """A budget's or an allocation's new amount, and why."""

    amount = _amount("New amount", minimum="0")
    reason = _text("Why it changes")


class AllocateForm(forms.Form):
    budget: forms.ModelChoiceField[Budget] = forms.ModelChoiceField(queryset=Budget.objects.none())
    partner: forms.ModelChoiceField[Partner] = forms.ModelChoiceField(
        queryset=Partner.objects.none()
    )
    amount = _amount("Amount", help_text="Added to what the partner already has of this budget.")
    reason = _text("Note", required=False)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        today = tenant.local_today()
        budgets = Budget.objects.filter(tenant=tenant, ends_on__gte=today)
        _choices(self.fields["budget"], budgets.select_related("fund_type", "region", "tier"))
        _choices(
            self.fields["partner"],
            Partner.objects.filter(tenant=tenant, status=Partner.Status.ACTIVE).order_by("name"),
        )


class MoveFundsForm(forms.Form):
    partner: forms.ModelChoiceField[Partner] = forms.ModelChoiceField(
        queryset=Partner.objects.none(), label="Move to"
    )
    amount = _amount("Amount", help_text="At most what is still available (unspent).")
    reason = _text("Why the funds move")

    def __init__(self, *args: Any, tenant: Tenant, exclude: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        partners = Partner.objects.filter(tenant=tenant, status=Partner.Status.ACTIVE)
        if exclude is not None:
            partners = partners.exclude(pk=exclude)
        _choices(self.fields["partner"], partners.order_by("name"))


class RuleForm(forms.Form):
    """Allocate a budget by a rule: an amount per tier, or a total shared in
    proportion to each partner's won revenue last period."""

    PER_TIER, REVENUE = "per_tier", "revenue_share"
    rule = forms.ChoiceField(
        choices=[
            (PER_TIER, "An amount per tier"),
            (REVENUE, "A total, shared by last period's won revenue"),
        ],
        widget=forms.RadioSelect,
        initial=PER_TIER,
    )
    total = _amount(
        "Total to share",
        required=False,
        help_text="Revenue share: split among the partners in proportion to their won "
        "revenue in the previous period.",
    )
    reason = _text("Note", required=False)

    def __init__(self, *args: Any, tenant: Tenant, budget: Budget, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tiers = Tier.objects.filter(tenant=tenant).order_by("rank")
        if budget.tier_id:
            tiers = tiers.filter(pk=budget.tier_id)
        self.tiers = list(tiers)
        for tier in self.tiers:
            self.fields[f"tier_{tier.pk}"] = _amount(
                f"{tier.name}", required=False, minimum="0", help_text="Per partner."
            )

    def tier_fields(self) -> list[forms.BoundField]:
        return [self[f"tier_{tier.pk}"] for tier in self.tiers]

    def tier_amounts(self) -> dict[Any, Decimal]:
        return {
            tier.pk: self.cleaned_data[f"tier_{tier.pk}"]
            for tier in self.tiers
            if self.cleaned_data.get(f"tier_{tier.pk}")
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None
        if cleaned.get("rule") == self.REVENUE and not cleaned.get("total"):
            self.add_error("total", "Enter the total to share.")
        if cleaned.get("rule") == self.PER_TIER and not self.tier_amounts():
            self.add_error(None, "Enter the amount for at least one tier.")
        return cleaned


# --- Decisions ---------------------------------------------------------------------------


class ApproveRequestForm(forms.Form):
    amount = _amount(
        "Amount to approve",
        required=False,
        help_text="Empty: all that was asked for. Less needs a reason.",
    )
    reason = _text("Note to the partner", required=False)


class ApproveClaimForm(forms.Form):
    approved_cost = _amount(
        "Approved cost",
        required=False,
        help_text="Empty: the actual cost claimed. A lower cost needs a reason.",
    )
    reason = _text("Note to the partner", required=False)


class RejectForm(forms.Form):
    reason = _text("Reason for the partner")


class RequestInfoForm(forms.Form):
    message = _text("What the partner should add", rows=3)


class MessageForm(forms.Form):
    text = _text("Message to the partner", rows=3)


class VerifyForm(forms.Form):
    note = _text("Note for finance", required=False)


class ExtensionDecisionForm(forms.Form):
    DECISIONS = [("approve", "Approve the extension"), ("reject", "Refuse the extension")]

    extension = forms.UUIDField(widget=forms.HiddenInput)
    # Sent by the form's two submit buttons, not rendered as a field.
    decision = forms.ChoiceField(choices=DECISIONS)
    reason = _text(
        "Reason", required=False, help_text="Required when you refuse: the partner sees it."
    )


class BulkDecisionForm(forms.Form):
    reason = _text("Reason for the partners")

    def __init__(self, *args: Any, decision: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if decision == "approve":
            self.fields["reason"].required = False
            self.fields["reason"].label = "Note to the partners"
