"""Forms of the partner portal's deal registration pages.

The forms only shape input; the rules of the workflow (what may be
submitted, when, by whom) live in ``services``, whose ``DealRegError.field``
names the form field a refusal belongs to (see ``prm.tenancy.errors``).
"""

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django import forms
from django.db.models import Q, QuerySet
from django.forms import BoundField
from django_countries import countries

from partners.models import Region
from prm.tenancy.models import Membership, Tenant, currency_validator

from . import extensions
from .models import CustomField, DealRegistration, ProductLine
from .services import RegistrationInput

Status = DealRegistration.Status

CUSTOM_PREFIX = "cf_"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class FieldDefinition(Protocol):
    """A question defined by ops: deal registration's ``CustomField`` and
    other apps' models of the same shape (onboarding's application
    ``Question``). ``field_type`` is one of ``CustomField.Type``'s values."""

    key: str
    label: str
    field_type: str
    required: bool
    help_text: str

    def choice_list(self) -> list[str]: ...


def custom_form_field(definition: FieldDefinition) -> forms.Field:
    """The form field that asks ``definition``'s question."""
    common: dict[str, Any] = {
        "label": definition.label,
        "required": definition.required,
        "help_text": definition.help_text,
    }
    kind = definition.field_type
    if kind == CustomField.Type.TEXTAREA:
        return forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}), **common)
    if kind == CustomField.Type.NUMBER:
        return forms.DecimalField(max_digits=20, decimal_places=6, **common)
    if kind == CustomField.Type.DATE:
        return forms.DateField(widget=DateInput, **common)
    if kind == CustomField.Type.CHOICE:
        options = [(c, c) for c in definition.choice_list()]
        return forms.ChoiceField(choices=[("", "Choose…"), *options], **common)
    if kind == CustomField.Type.CHECKBOX:
        return forms.BooleanField(**common)
    return forms.CharField(max_length=500, **common)


def json_safe_value(definition: FieldDefinition, value: Any) -> Any:
    """A cleaned custom value as stored in ``custom_data``: text as text, a
    number as its exact decimal string (JSON numbers are floats), a date in
    ISO form, a yes/no as a boolean. Empty optional values are left out."""
    kind = definition.field_type
    if kind == CustomField.Type.CHECKBOX:
        return bool(value)
    if value in (None, ""):
        return None
    if kind == CustomField.Type.NUMBER:
        return format(value.normalize(), "f")
    if kind == CustomField.Type.DATE:
        return value.isoformat()
    return value


def value_from_stored(definition: FieldDefinition, value: Any) -> Any:
    """A stored custom value back as the form field's initial value."""
    if value is None:
        return None
    kind = definition.field_type
    try:
        if kind == CustomField.Type.NUMBER:
            return Decimal(str(value))
        if kind == CustomField.Type.DATE:
            return date.fromisoformat(str(value))
    except (InvalidOperation, ValueError):
        return None
    return value


class RegistrationForm(forms.Form):
    """A new registration, a draft being edited, or the corrections sent
    with an answer to an information request."""

    client_token = forms.UUIDField(widget=forms.HiddenInput, required=False)
    customer_name = forms.CharField(label="Customer company name", max_length=200)
    customer_domain = forms.CharField(
        label="Customer website or domain",
        max_length=253,
        required=False,
        help_text="e.g. initech.com: the surest way to tell customers apart.",
    )
    customer_country = forms.ChoiceField(label="Country")
    customer_region: "forms.ModelChoiceField[Region]" = forms.ModelChoiceField(
        label="Region", queryset=Region.objects.none(), required=False, empty_label="—"
    )
    customer_contact_name = forms.CharField(label="Contact name", max_length=200, required=False)
    customer_contact_email = forms.EmailField(label="Contact email", required=False)
    customer_contact_phone = forms.CharField(label="Contact phone", max_length=40, required=False)
    product_lines: "forms.ModelMultipleChoiceField[ProductLine]" = forms.ModelMultipleChoiceField(
        label="Product lines",
        queryset=ProductLine.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Choose at least one to submit.",
    )
    estimated_value = forms.DecimalField(
        label="Estimated value", max_digits=14, decimal_places=2, min_value=Decimal("0")
    )
    currency = forms.CharField(
        label="Currency",
        max_length=3,
        min_length=3,
        widget=forms.TextInput(attrs={"size": 4, "autocapitalize": "characters"}),
    )
    expected_close_date = forms.DateField(label="Expected close date", widget=DateInput)
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the customer is buying and where the deal stands.",
    )

    def __init__(
        self,
        *args: Any,
        tenant: Tenant,
        registration: DealRegistration | None = None,
        with_token: bool = False,
        membership: Membership | None = None,
        **kwargs: Any,
    ) -> None:
        initial = kwargs.pop("initial", None) or {}
        if registration is not None:
            initial = {**self.initial_from(registration), **initial}
        else:
            initial.setdefault("currency", tenant.base_currency)
        if with_token:
            initial.setdefault("client_token", uuid.uuid4())
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        if not with_token:
            del self.fields["client_token"]
        self.registration = registration
        country_field = self.fields["customer_country"]
        region_field = self.fields["customer_region"]
        lines_field = self.fields["product_lines"]
        assert isinstance(country_field, forms.ChoiceField)
        assert isinstance(region_field, forms.ModelChoiceField)
        assert isinstance(lines_field, forms.ModelMultipleChoiceField)
        country_field.choices = [("", "Choose a country"), *countries]
        region_field.queryset = Region.objects.order_by("name")
        lines_field.queryset = ProductLine.objects.filter(is_active=True).order_by("name")
        self.custom_fields = list(CustomField.objects.filter(is_active=True))
        stored = registration.custom_data if registration is not None else {}
        for definition in self.custom_fields:
            name = CUSTOM_PREFIX + definition.key
            self.fields[name] = custom_form_field(definition)
            if definition.key in stored and name not in self.initial:
                self.initial[name] = value_from_stored(definition, stored[definition.key])
        # Fields later apps add to the partner's form (dealreg.extensions).
        self.extensions = extensions.collect(membership, registration) if membership else []
        for extension in self.extensions:
            self.fields.update(extension.fields)

    @staticmethod
    def initial_from(registration: DealRegistration) -> dict:
        return {
            "customer_name": registration.customer_name,
            "customer_domain": registration.customer_domain,
            "customer_country": registration.customer_country.code,
            "customer_region": registration.customer_region_id,
            "customer_contact_name": registration.customer_contact_name,
            "customer_contact_email": registration.customer_contact_email,
            "customer_contact_phone": registration.customer_contact_phone,
            "product_lines": [p.pk for p in registration.product_lines.all()],
            "estimated_value": registration.estimated_value,
            "currency": registration.currency,
            "expected_close_date": registration.expected_close_date,
            "description": registration.description,
        }

    def clean_currency(self) -> str:
        value: str = self.cleaned_data["currency"].strip().upper()
        currency_validator(value)
        return value

    def custom_bound_fields(self) -> list[BoundField]:
        return [self[CUSTOM_PREFIX + d.key] for d in self.custom_fields]

    def extension_sections(self) -> list[tuple[str, list[BoundField]]]:
        """(legend, bound fields) of each extension, for the template."""
        return [(e.legend, [self[name] for name in e.fields]) for e in self.extensions]

    def standard_bound_fields(self) -> list[BoundField]:
        added = {name for extension in self.extensions for name in extension.fields}
        return [
            f
            for f in self.visible_fields()
            if not f.name.startswith(CUSTOM_PREFIX) and f.name not in added
        ]

    def save_extensions(self, registration: DealRegistration) -> None:
        """Hand the added fields' values to the apps that added them (in the
        transaction that saved the registration)."""
        extensions.save(self.extensions, registration, self.cleaned_data)

    def custom_data(self) -> dict:
        """The custom answers as JSON-safe values, keeping answers to fields
        that ops have since switched off."""
        active = {d.key for d in self.custom_fields}
        stored = self.registration.custom_data if self.registration is not None else {}
        data = {k: v for k, v in (stored or {}).items() if k not in active}
        for definition in self.custom_fields:
            value = json_safe_value(
                definition, self.cleaned_data.get(CUSTOM_PREFIX + definition.key)
            )
            if value is not None:
                data[definition.key] = value
        return data

    def to_input(self) -> RegistrationInput:
        cleaned = self.cleaned_data
        names = (
            "customer_name",
            "customer_domain",
            "customer_country",
            "customer_region",
            "customer_contact_name",
            "customer_contact_email",
            "customer_contact_phone",
            "estimated_value",
            "currency",
            "expected_close_date",
            "description",
        )
        data = {name: cleaned[name] for name in names}
        data["custom_data"] = self.custom_data()
        return RegistrationInput(data=data, product_lines=list(cleaned["product_lines"]))

    def details_changed(self) -> bool:
        """Whether the partner changed any detail (the token aside)."""
        return any(name != "client_token" for name in self.changed_data)


class ListFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "All statuses"), *Status.choices], label="Status"
    )
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Customer or code"}),
    )

    def filter(self, queryset: QuerySet[DealRegistration]) -> QuerySet[DealRegistration]:
        """The rows the filters that could be read select (``cleaned_data``
        holds only those; the page names the others in a notice)."""
        self.is_valid()
        status = self.cleaned_data.get("status")
        if status:
            queryset = queryset.filter(status=status)
        q = (self.cleaned_data.get("q") or "").strip()
        if q:
            queryset = queryset.filter(
                Q(customer_name__icontains=q)
                | Q(customer_domain__icontains=q)
                | Q(code__icontains=q)
            )
        return queryset


class MessageForm(forms.Form):
    text = forms.CharField(
        label="Message to the approver",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AnswerForm(forms.Form):
    message = forms.CharField(
        label="Your answer",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ExtensionForm(forms.Form):
    reason = forms.CharField(
        label="Why does the deal need more time?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class OutcomeForm(forms.Form):
    WON, LOST = "won", "lost"

    outcome = forms.ChoiceField(
        label="Outcome",
        choices=[(WON, "Won"), (LOST, "Lost")],
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(
        label="Amount won",
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )
    close_date = forms.DateField(label="Close date", required=False, widget=DateInput)
    reason = forms.CharField(
        label="Why was it lost?",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, registration: DealRegistration, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Amount won ({registration.currency})"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        outcome = cleaned.get("outcome")
        if outcome == self.WON:
            if cleaned.get("amount") is None and "amount" not in self.errors:
                self.add_error("amount", "Enter the amount the deal was won for.")
            if cleaned.get("close_date") is None and "close_date" not in self.errors:
                self.add_error("close_date", "Enter the date the deal closed.")
        elif outcome == self.LOST and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", "Say why the deal was lost.")
        return cleaned
