"""Forms of the statements and disputes pages, in the portal and in the
admin. Each form's field names match the ``field`` of the refusals the
services raise, so a refusal shows on the field it is about."""

from typing import Any

from django import forms

from partners.models import Partner

from .disputes import MAX_TEXT


def _text(label: str, *, rows: int = 4, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=MAX_TEXT,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 60}),
    )


# --- Portal -------------------------------------------------------------------------


class DisputeForm(forms.Form):
    message = _text(
        "What is wrong with this line?",
        help_text="Say what you expected (amount, deal, date) and why; finance answers here.",
    )


class ReplyForm(forms.Form):
    body = _text("Your message", rows=3)


# --- Admin --------------------------------------------------------------------------


class AdminReplyForm(forms.Form):
    body = _text("Message to the partner", rows=3)


class AdjustForm(forms.Form):
    amount = forms.DecimalField(
        label="Adjustment",
        max_digits=15,
        decimal_places=3,
        help_text="In the base currency: positive credits the partner, negative takes back. "
        "Payable at once.",
    )
    reason = _text("Reason for the partner", rows=2)


class RejectForm(forms.Form):
    reason = _text("Reason for the partner", rows=2)


class StatementPickForm(forms.Form):
    """Which partner's statement, for which period (empty: the current one)."""

    partner: "forms.ModelChoiceField[Partner]" = forms.ModelChoiceField(
        queryset=Partner.objects.none(), empty_label="Choose…"
    )
    period = forms.CharField(
        label="Period",
        required=False,
        max_length=10,
        help_text="Its first day (2026-10-01) or month (2026-10); empty for the current one.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        partner_field = self.fields["partner"]
        assert isinstance(partner_field, forms.ModelChoiceField)
        partner_field.queryset = Partner.objects.order_by("name").only("pk", "name")
