"""Forms of the deal registration admin: the decision forms on a
registration's page, the bulk decision page, the configuration screens and
the direct pipeline import.

Model forms here have no Meta: the admin builds the model form per request,
inside the tenant's scope, so choice querysets are never evaluated at import
(see ``partners.admin.PartnerForm``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from partners.models import Partner
from prm.tenancy.admin_base import tenant_member_users
from prm.tenancy.errors import add_service_error
from prm.tenancy.models import Tenant, User

from . import direct_import
from .routing import APPROVER_ROLES


def _text(
    label: str, *, required: bool = True, help_text: str = "", rows: int = 2
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 60}),
    )


# --- Decisions on one registration ---------------------------------------------


class ApproveForm(forms.Form):
    reason = _text("Note to the partner", required=False)
    override_reason = _text(
        "Override reason",
        required=False,
        help_text="Needed when this registration conflicts with an approved one: "
        "why it should be approved anyway. Recorded with the decision.",
    )


class RejectForm(forms.Form):
    reason = _text("Reason for the partner")


class RequestInfoForm(forms.Form):
    message = _text("What the partner should add", rows=3)


class MessageForm(forms.Form):
    text = _text("Message to the partner", rows=3)


class CorrectOutcomeForm(forms.Form):
    amount = forms.DecimalField(
        label="Corrected amount", max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    close_date = forms.DateField(label="Close date", widget=forms.DateInput(attrs={"type": "date"}))
    reason = _text("Why (e.g. partial refund, booking error)")


class ReverseWinForm(forms.Form):
    reason = _text("Why the win no longer stands (cancelled, refunded...)")


class ReassignForm(forms.Form):
    approver: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        queryset=None, label="New approver"
    )
    reason = _text("Note for the new approver", required=False)

    def __init__(
        self, *args: Any, tenant: Tenant, current: User | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        people = tenant_member_users(tenant, APPROVER_ROLES).order_by("email")
        if current is not None:
            people = people.exclude(pk=current.pk)
        field = self.fields["approver"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = people
        field.label_from_instance = lambda user: (  # type: ignore[method-assign,assignment]
            f"{user.full_name} ({user.email})" if user.full_name else user.email
        )


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


# --- Configuration ----------------------------------------------------------------

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class DealRegSettingsForm(forms.ModelForm):
    workdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        label="Working days",
        error_messages={"required": "Choose at least one working day."},
    )

    def clean_reminder_percents(self) -> Any:
        return sorted(set(self.cleaned_data.get("reminder_percents") or []))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        start, end = cleaned.get("day_start"), cleaned.get("day_end")
        if start and end and not start < end:
            self.add_error("day_end", "The working day must end after it starts.")
        return cleaned


class RoutingRuleForm(forms.ModelForm):
    partner_types = forms.TypedMultipleChoiceField(
        choices=Partner.Type.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Leave all unticked to match every partner type.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        low, high = cleaned.get("min_value"), cleaned.get("max_value")
        if low is not None and high is not None and low > high:
            self.add_error("max_value", "The maximum must not be below the minimum.")
        if not cleaned.get("approver") and not cleaned.get("pool"):
            self.add_error(
                "approver", "Name an approver or a pool; a rule with neither routes nothing."
            )
        return cleaned


class CustomFieldForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        options = [line.strip() for line in (cleaned.get("choices") or "").splitlines()]
        options = [o for o in options if o]
        if cleaned.get("field_type") == "choice":
            if len(options) < 2:
                self.add_error("choices", "A choice field needs at least two options, one a line.")
            repeated = sorted({o for o in options if options.count(o) > 1})
            if repeated:
                self.add_error("choices", f"Options listed twice: {', '.join(repeated)}.")
            cleaned["choices"] = "\n".join(options)
        elif options:
            self.add_error(
                "choices", "Only choice fields have options: clear them or make it a choice field."
            )
        return cleaned


class DirectOpportunityForm(forms.ModelForm):
    def clean_currency(self) -> Any:
        return (self.cleaned_data.get("currency") or "").strip().upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        if cleaned.get("amount") is not None and not cleaned.get("currency"):
            cleaned["currency"] = self.instance.tenant.base_currency
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # Django API the stubs leave out
        # The matching keys the conflict check compares, derived once here
        # and by the import alike.
        try:
            direct_import.normalize_opportunity(self.instance)
        except direct_import.DirectImportError as exc:
            add_service_error(self, exc)
