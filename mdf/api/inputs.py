"""What the MDF resources are written with: the fields of a fund request
and of a claim as the portal's forms take them (same sizes and limits),
and the decisions. The rules (what may be requested or claimed, when, how
much) stay in ``mdf.requests`` and ``mdf.claims``."""

import json
from decimal import Decimal
from typing import Any

from rest_framework import serializers
from rest_framework.utils import html

from incentives.serializers import OwnRelated

from ..models import ActivityType, Allocation, FundRequest

ZERO = Decimal("0")
MAX_LINES = 50


def money(**kwargs: Any) -> serializers.DecimalField:
    """An amount as the portal's forms take it: at most 12 digits before
    the point and 2 after, as a string ("2000.00") or a number."""
    kwargs.setdefault("min_value", Decimal("0.01"))
    return serializers.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def count(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=10**9, **kwargs)


class LineInput(serializers.Serializer):
    description = serializers.CharField(max_length=200)
    amount = money()


class _NotJson(str):
    """A multipart field's text that is not JSON."""


class Lines(serializers.ListField):
    """Cost lines: a JSON list of {description, amount}; in a
    multipart/form-data request, that list as the field's text."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", LineInput())
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("max_length", MAX_LINES)
        super().__init__(**kwargs)

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and self.field_name in dictionary:
            text = dictionary.get(self.field_name)
            try:
                return json.loads(text)
            except ValueError:
                return _NotJson(text)
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, _NotJson):
            raise serializers.ValidationError(
                'Give the lines as JSON: [{"description": "Venue", "amount": "1200.00"}].'
            )
        return super().to_internal_value(data)


def as_lines(value: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
    return [(row["description"].strip(), row["amount"]) for row in value]


class RequestInput(serializers.Serializer):
    """A fund request (a draft unless ``submit`` is true), or the fields of
    one to change (PATCH: a draft, or one sent back for information)."""

    allocation = OwnRelated(Allocation)
    activity_type = serializers.ChoiceField(choices=ActivityType.choices)
    title = serializers.CharField(max_length=200)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    description = serializers.CharField(max_length=10000)
    audience = serializers.CharField(max_length=300, required=False, allow_blank=True)
    expected_reach = count(required=False)
    expected_leads = count(required=False)
    expected_pipeline = money(required=False, min_value=ZERO)
    requested_amount = money()
    cost_lines = Lines()
    submit = serializers.BooleanField(required=False, default=False)


class ClaimInput(serializers.Serializer):
    """A claim of an approved activity (a draft unless ``submit`` is true),
    or the fields of one to change. Proof files come with a
    multipart/form-data request, under ``proof_<kind>`` (``proof_invoice``,
    ``proof_photo``...), as many per kind as needed."""

    request = OwnRelated(FundRequest)
    invoice_number = serializers.CharField(max_length=60)
    invoice_date = serializers.DateField()
    supplier = serializers.CharField(max_length=200)
    claimed_amount = money()
    lines = Lines()
    leads = count(required=False)
    attendees = count(required=False)
    opportunities = count(required=False)
    results = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    submit = serializers.BooleanField(required=False, default=False)


class MessageInput(serializers.Serializer):
    message = serializers.CharField(max_length=4000, allow_blank=True)


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ApproveRequestInput(serializers.Serializer):
    amount = money(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class ApproveClaimInput(serializers.Serializer):
    approved_cost = money(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class RejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=4000, allow_blank=True)
