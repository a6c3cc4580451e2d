"""What the deal registration endpoints take: the fields of the portal's
registration form, as JSON, and the bodies of the actions.

These only shape input, as the portal's forms do (types, lengths, the
program's own questions through the form's own fields); the workflow's
rules (what may be submitted, when, by whom) are the services'."""

from typing import Any

from django import forms
from django_countries import countries
from rest_framework import serializers

from partners.models import Region
from prm.api.fields import TenantRelated
from prm.tenancy.models import Membership, currency_validator

from .. import extensions
from ..forms import OutcomeForm, custom_form_field, json_safe_value
from ..models import CustomField, DealRegistration, ProductLine
from ..services import REGISTRATION_FIELDS, RegistrationInput


class ActiveProductLine(TenantRelated):
    """A product line the program still offers, by id."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ProductLine, **kwargs)

    def get_queryset(self) -> Any:
        return ProductLine.objects.filter(is_active=True)


class RegistrationFields(serializers.Serializer):
    """A registration's details, as the portal's form asks them. On a change
    (a draft, the details sent with an answer) only the fields given change."""

    customer_name = serializers.CharField(max_length=200)
    customer_domain = serializers.CharField(max_length=253, required=False, allow_blank=True)
    customer_country = serializers.CharField(max_length=2, help_text="ISO 3166 country code (US).")
    customer_region = TenantRelated(Region, required=False, allow_null=True)
    customer_contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    customer_contact_email = serializers.EmailField(required=False, allow_blank=True)
    customer_contact_phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    product_lines = ActiveProductLine(
        many=True, required=False, help_text="Ids of active product lines (/product-lines/)."
    )
    estimated_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, help_text="A decimal string: 25000.00."
    )
    currency = serializers.CharField(
        min_length=3, max_length=3, required=False, help_text="ISO 4217; the program's by default."
    )
    expected_close_date = serializers.DateField()
    description = serializers.CharField(required=False, allow_blank=True)
    custom_data = serializers.DictField(
        required=False,
        help_text="Answers to the program's own questions, by their key (as the portal's "
        "form asks them: text, a decimal string, an ISO date, a choice, true/false).",
    )

    def validate_customer_country(self, value: str) -> str:
        code = value.upper()
        if code not in dict(countries):
            raise serializers.ValidationError(f"“{value}” is not an ISO 3166 country code.")
        return code

    def validate_currency(self, value: str) -> str:
        code = value.strip().upper()
        try:
            currency_validator(code)
        except forms.ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return code

    def validate_custom_data(self, value: dict[str, Any]) -> dict[str, Any]:
        """The answers as the form stores them; a question the program does
        not ask (any more) is refused."""
        questions = {d.key: d for d in CustomField.objects.filter(is_active=True)}
        errors: dict[str, list[str]] = {}
        cleaned: dict[str, Any] = {}
        for key in value:
            if key not in questions:
                errors[key] = ["The program asks no question with this key."]
        for key, definition in questions.items():
            if key not in value and getattr(self.root, "partial", False):
                continue
            try:
                answer = custom_form_field(definition).clean(value.get(key))
            except forms.ValidationError as exc:
                errors[key] = exc.messages
                continue
            stored = json_safe_value(definition, answer)
            if stored is not None:
                cleaned[key] = stored
        if errors:
            raise serializers.ValidationError(errors)
        return cleaned


def current_fields(registration: DealRegistration) -> dict[str, Any]:
    """A registration's details as ``RegistrationFields`` gives them."""
    data = {name: getattr(registration, name) for name in REGISTRATION_FIELDS}
    data["customer_country"] = registration.customer_country.code
    data["product_lines"] = list(registration.product_lines.all())
    return data


def registration_input(
    given: dict[str, Any],
    *,
    base: DealRegistration | None = None,
    default_currency: str = "",
) -> RegistrationInput:
    """The service's input: ``given`` (validated) over ``base``'s details.
    Answers to questions the program no longer asks are kept, as the form
    keeps them."""
    data = current_fields(base) if base is not None else {}
    if base is None:
        data["currency"] = default_currency
    stored = dict(base.custom_data or {}) if base is not None else {}
    data.update(given)
    if "custom_data" in given:
        data["custom_data"] = {**stored, **given["custom_data"]}
    lines = data.pop("product_lines", [])
    return RegistrationInput(data=data, product_lines=list(lines))


class CreateRegistration(RegistrationFields):
    submit = serializers.BooleanField(
        default=True, help_text="Submit it for a decision at once (false: keep a draft)."
    )
    duplicates_acknowledged = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text="Codes of your own open registrations of this customer that you know of "
        "(the portal's warning): submitting the same customer again is refused until named.",
    )


class Answer(serializers.Serializer):
    """Validated as a partial body (the details' fields are each optional);
    an answer without ``message`` is refused by the service."""

    message = serializers.CharField(max_length=5000, help_text="Your answer to the vendor.")
    details = RegistrationFields(
        required=False, help_text="Corrected details: only those that changed."
    )


class Reason(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class Approve(Reason):
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Needed when it conflicts with an approved registration: why approve anyway.",
    )


class Reject(serializers.Serializer):
    reason = serializers.CharField(help_text="Told to the partner.")


class RequestInformation(serializers.Serializer):
    message = serializers.CharField(
        max_length=5000, help_text="What the partner should add; the SLA clock pauses."
    )


class Outcome(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[OutcomeForm.WON, OutcomeForm.LOST])
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text="Won: the amount won, in the registration's currency.",
    )
    close_date = serializers.DateField(
        required=False, allow_null=True, help_text="Won: the day it closed."
    )
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="Lost: why."
    )


def extension_values(
    membership: Membership, registration: DealRegistration | None, data: Any
) -> tuple[list[extensions.Extension], dict[str, Any]]:
    """The fields later apps add to the partner's form (``extensions``),
    read from the request's body by their names and cleaned by their own
    form fields. Raises a ValidationError naming the fields refused."""
    found = extensions.collect(membership, registration)
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for extension in found:
        for name, field in extension.fields.items():
            # Left out of a change: the current value, as the form shows it.
            given = data.get(name) if name in data or registration is None else field.initial
            try:
                cleaned[name] = field.clean(given)
            except forms.ValidationError as exc:
                errors[name] = exc.messages
    if errors:
        raise serializers.ValidationError(errors)
    return found, cleaned
