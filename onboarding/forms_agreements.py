"""Forms of the agreements: the partner admin's acceptance in the portal,
and in the admin an agreement, a version (whose writes go through
``acceptance``) and the acceptance report's filters.

Choice querysets are set per request in ``__init__`` (inside the tenant's
scope), never at import."""

from __future__ import annotations

from typing import Any

from django import forms

from partners.models import Partner

from .acceptance import MIN_NAME, TYPED_NAME_MAX
from .models import Agreement, AgreementVersion

# --- Portal -----------------------------------------------------------------------------


class AcceptForm(forms.Form):
    agree = forms.BooleanField(
        label="I have read this agreement and accept it on behalf of my organisation",
        error_messages={"required": "Tick the box to confirm you have read and accept it."},
    )
    typed_name = forms.CharField(
        label="Type your full name",
        max_length=TYPED_NAME_MAX,
        help_text="Your name typed here is your signature.",
        error_messages={"required": "Type your full name to sign."},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    # The hash of the content the page showed (the service compares it).
    content_sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_typed_name(self) -> str:
        name = " ".join(self.cleaned_data["typed_name"].split())
        if len(name) < MIN_NAME:
            raise forms.ValidationError("Type your full name to sign.")
        return name


# --- Admin --------------------------------------------------------------------------------


class AgreementForm(forms.ModelForm):
    partner_types = forms.TypedMultipleChoiceField(
        choices=Partner.Type.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Partner types that must accept it",
        help_text="None ticked: every partner type.",
    )

    class Meta:
        model = Agreement
        fields = ["title", "summary", "partner_types", "is_active"]


class VersionForm(forms.Form):
    """A version's fields. On a new version the agreement is chosen and the
    content is text or a PDF; on an existing one the agreement is fixed and
    the content keeps its kind."""

    agreement: forms.ModelChoiceField[Agreement] = forms.ModelChoiceField(
        queryset=Agreement.objects.none(), empty_label=None
    )
    body = forms.CharField(
        label="Text (Markdown)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "cols": 90, "class": "vLargeTextField"}),
        help_text="Headings (#), lists, **bold**, *italics*, tables and links "
        "(http, https, mailto). HTML is shown as typed, not run.",
    )
    pdf = forms.FileField(
        label="Or a PDF",
        required=False,
        help_text="Instead of the text: the agreement as a PDF file.",
    )
    effective_on = forms.DateField(
        label="Takes effect on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Partners must accept it from this day. A later date lets you check the "
        "version's page before anyone is asked.",
    )
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="From this day it is asked of nobody (empty: it does not expire).",
    )
    grace_days = forms.IntegerField(
        label="Days to accept",
        required=False,
        min_value=0,
        max_value=365,
        help_text="Partners who accepted an earlier version keep full access this long "
        "(empty: the onboarding settings' default).",
    )
    change_summary = forms.CharField(
        label="What changed",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 90}),
        help_text="Shown to partners asked to accept the new version.",
    )

    def __init__(self, *args: Any, version: AgreementVersion | None = None, **kwargs: Any):
        self.version = version
        if version is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {
                "body": version.body,
                "effective_on": version.effective_on,
                "expires_on": version.expires_on,
                "grace_days": version.grace_days,
                "change_summary": version.change_summary,
            }
        super().__init__(*args, **kwargs)
        if version is None:
            field = self.fields["agreement"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = Agreement.objects.order_by("title")
            return
        del self.fields["agreement"]
        if version.pdf:
            del self.fields["body"]
            self.fields["pdf"].label = "Replace the PDF"
            self.fields["pdf"].help_text = "Only while nobody has accepted this version."
        else:
            del self.fields["pdf"]
        if version.acceptances.exists():
            # What partners accepted is fixed: shown, not editable (a
            # posted change is refused by the service with its reason).
            for name in ("body", "effective_on", "expires_on"):
                if name in self.fields:
                    self.fields[name].widget.attrs["readonly"] = True
            self.fields.pop("pdf", None)


# --- The acceptance report ---------------------------------------------------------------


STATES = [
    ("", "Anyone"),
    ("current", "Accepted the current version"),
    ("grace", "Accepted an earlier version, within the days to accept"),
    ("held", "Held: not accepted"),
    ("none", "Never accepted any version"),
]
STATUSES = [
    ("current", "Active or onboarding"),
    ("", "Any status"),
    *Partner.Status.choices,
]


class ReportForm(forms.Form):
    agreement: forms.ModelChoiceField[Agreement] = forms.ModelChoiceField(
        queryset=Agreement.objects.none(), required=False, empty_label="All agreements"
    )
    state = forms.ChoiceField(choices=STATES, required=False, label="Acceptance")
    partner_type = forms.ChoiceField(
        choices=[("", "Any type"), *Partner.Type.choices], required=False, label="Type"
    )
    status = forms.ChoiceField(choices=STATUSES, required=False, label="Partner status")
    q = forms.CharField(required=False, max_length=100, label="Partner name")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["agreement"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Agreement.objects.order_by("-is_active", "title")
