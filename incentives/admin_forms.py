"""Forms of the incentives configuration admin: plan versions (with their
brackets), the what-if preview, exchange rates and their import, and
manual ledger adjustments.

Model forms here have no Meta: the admin builds the model form per request,
inside the tenant's scope, so choice querysets are never evaluated at import.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet

from partners.models import Partner
from prm import format as fmt
from prm.tenancy.models import Tenant

from . import preview as preview_module
from .models import ExchangeRate, Plan, PlanVersion
from .money import format_money

RateType = PlanVersion.RateType


class PlanVersionForm(forms.ModelForm):
    """The rule of a version. ``PlanVersion.clean`` checks what the model
    requires; this adds what the plan's kind and the rate type make
    meaningless, so nothing is stored that the arithmetic would ignore."""

    partner_types = forms.TypedMultipleChoiceField(
        choices=Partner.Type.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Partner types",
        help_text="Leave all unticked for every partner type.",
    )
    # New versions: the admin remembers which version a form made, so the
    # form sent twice makes one.
    form_token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding and not self.is_bound:
            self.initial.setdefault("form_token", uuid.uuid4())

    def _kind(self) -> str | None:
        plan = self.cleaned_data.get("plan") if "plan" in self.fields else None
        if plan is None and self.instance.plan_id:
            plan = self.instance.plan
        return plan.kind if plan else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        rate_type = cleaned.get("rate_type", self.instance.rate_type)
        kind = self._kind()
        present = {
            name: cleaned.get(name) for name in ("rate_percent", "fixed_amount") if name in cleaned
        }
        if present.get("rate_percent") is not None and rate_type != RateType.PERCENT:
            self.add_error(
                "rate_percent",
                "Only the percentage rate type uses a rate; clear it (bracket rates go in the "
                "brackets below).",
            )
        if present.get("fixed_amount") is not None and rate_type != RateType.FIXED:
            self.add_error("fixed_amount", "Only the fixed rate type uses an amount; clear it.")
        self._check_end(cleaned)
        if kind == Plan.Kind.REBATE:
            if cleaned.get("cap_per_deal") is not None:
                self.add_error(
                    "cap_per_deal",
                    "A rebate is paid on a period's volume, not per deal: use the cap per period.",
                )
            if rate_type == RateType.FIXED and cleaned.get("accelerator") is not None:
                self.add_error(
                    "accelerator",
                    "A fixed rebate pays its amount once the volume reaches the quota; it has no "
                    "accelerator.",
                )
        return cleaned

    def _check_end(self, cleaned: dict[str, Any]) -> None:
        """A published version that is ended (or left open) must not reach
        into the next published version's time: a deal would be paid twice."""
        version = self.instance
        if "effective_to" not in self.fields or version._state.adding:
            return
        if version.status == PlanVersion.Status.DRAFT:
            return
        later = (
            PlanVersion.objects.filter(
                plan_id=version.plan_id,
                status=PlanVersion.Status.PUBLISHED,
                effective_from__gt=version.effective_from,
            )
            .order_by("effective_from")
            .first()
        )
        end = cleaned.get("effective_to")
        if later is not None and (end is None or end >= later.effective_from):
            self.add_error(
                "effective_to",
                f"Version {later.number} takes effect on {fmt.day(later.effective_from)}: this "
                f"version must end by {fmt.day(later.effective_from - timedelta(days=1))}.",
            )


class BracketFormSet(BaseInlineFormSet):
    """Bracket rate types need brackets; the others must not have any."""

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        kept = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("lower") is not None
        ]
        rate_type = self.instance.rate_type
        bracketed = rate_type in (RateType.BRACKETS_WHOLE, RateType.BRACKETS_MARGINAL)
        if bracketed and not kept:
            raise forms.ValidationError(
                "A bracket rate type needs at least one bracket: the amount it starts from and "
                "its rate."
            )
        if kept and not bracketed and rate_type:
            raise forms.ValidationError(
                "Only the bracket rate types use brackets: delete them or choose a bracket rate "
                "type."
            )


class NewVersionForm(forms.Form):
    """A new draft copied from a version, taking effect on a later date."""

    effective_from = forms.DateField(
        label="Takes effect on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Deals closed on or after this date; the version in force ends the day before "
        "when the new one is published.",
    )
    token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, version: PlanVersion, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = version

    def clean_effective_from(self) -> Any:
        day = self.cleaned_data["effective_from"]
        if day <= self.version.effective_from:
            raise forms.ValidationError(
                f"Version {self.version.number} takes effect on "
                f"{fmt.day(self.version.effective_from)}; the new version must take effect "
                "after that."
            )
        return day


# --- What-if preview ---------------------------------------------------------------


class PreviewForm(forms.Form):
    version: forms.ModelChoiceField[PlanVersion] = forms.ModelChoiceField(
        queryset=None, label="Plan version", empty_label=None
    )
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(
        self, *args: Any, versions: QuerySet[PlanVersion], today: date, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        field = self.fields["version"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = versions
        field.label_from_instance = lambda v: (  # type: ignore[method-assign,assignment]
            f"{v.plan.name} · v{v.number} ({v.get_status_display().lower()}, "
            f"from {fmt.day(v.effective_from)})"
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            try:
                preview_module.check_range(start, end, self.today)
            except preview_module.PreviewError as error:
                self.add_error(error.field, str(error))
        return cleaned


# --- Exchange rates ----------------------------------------------------------------


class ExchangeRateForm(forms.ModelForm):
    def clean_currency(self) -> Any:
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        base = self.instance.tenant.base_currency
        if currency == base:
            raise forms.ValidationError(
                f"{base} is the base currency: its rate is always 1 and needs no entry."
            )
        return currency


# --- Manual adjustments ------------------------------------------------------------


class ManualAdjustmentForm(forms.Form):
    partner: forms.ModelChoiceField[Partner] = forms.ModelChoiceField(queryset=None)
    amount = forms.DecimalField(
        max_digits=15,
        decimal_places=3,
        help_text="Positive: owed to the partner. Negative: taken back.",
    )
    currency = forms.ChoiceField()
    effective_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The exchange rate in force on this date converts it to the base currency.",
    )
    reason = forms.CharField(
        max_length=250,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shown to the partner on the statement and kept in the audit log.",
    )
    token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, tenant: Tenant, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        partner_field = self.fields["partner"]
        assert isinstance(partner_field, forms.ModelChoiceField)
        partner_field.queryset = Partner.objects.filter(tenant=tenant).order_by("name")
        base = tenant.base_currency
        others = (
            ExchangeRate.objects.filter(tenant=tenant)
            .exclude(currency=base)
            .order_by("currency")
            .values_list("currency", flat=True)
            .distinct()
        )
        currency_field = self.fields["currency"]
        assert isinstance(currency_field, forms.ChoiceField)
        currency_field.choices = [(base, f"{base} (base)")] + [(c, c) for c in others]
        self.fields["currency"].initial = base
        self.fields["effective_date"].initial = today
        if not self.is_bound:
            self.initial.setdefault("token", uuid.uuid4())

    def clean_amount(self) -> Any:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(
                "An adjustment of zero changes nothing: enter a positive amount to pay the "
                "partner more or a negative one to take money back."
            )
        return amount

    def clean_effective_date(self) -> Any:
        day = self.cleaned_data["effective_date"]
        if day > self.today:
            raise forms.ValidationError(
                f"An adjustment takes effect today ({fmt.day(self.today)}) or earlier."
            )
        if day < self.today - timedelta(days=3660):
            raise forms.ValidationError("That is more than ten years ago; check the date.")
        return day

    def clean_reason(self) -> Any:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give the reason.")
        return reason

    def describe(self) -> str:
        data = self.cleaned_data
        return f"{format_money(data['amount'], data['currency'])} for {data['partner']}"
