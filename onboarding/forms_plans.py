"""Forms of the onboarding plan pages: in the portal (tick a step, upload a
document, complete the company profile) and in the admin (tick a step of a
partner's plan, start a plan)."""

from __future__ import annotations

from typing import Any

from django import forms

from partners.models import Partner

from .models import PlanTemplate


class TickForm(forms.Form):
    note = forms.CharField(
        label="Note (optional)",
        max_length=300,
        required=False,
        help_text="What was done, for the record.",
    )


class DocumentForm(forms.Form):
    document = forms.FileField(
        label="File",
        help_text="A PDF, PNG or JPEG file.",
        error_messages={"required": "Choose the file to upload."},
    )


class ProfileForm(forms.Form):
    """The company profile fields a partner admin keeps up to date."""

    legal_name = forms.CharField(
        label="Legal name",
        max_length=200,
        required=False,
        help_text="As on your contracts and invoices.",
    )
    website = forms.URLField(label="Website", max_length=200, required=False, assume_scheme="https")
    phone = forms.CharField(label="Phone", max_length=40, required=False)
    address = forms.CharField(
        label="Address", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    @classmethod
    def for_partner(cls, partner: Partner, data: Any = None) -> ProfileForm:
        return cls(data, initial={name: getattr(partner, name) for name in cls.base_fields})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("legal_name", "phone", "address"):
            if name in data:
                data[name] = data[name].strip()
        return data


# --- Admin ------------------------------------------------------------------------------


class StepTickForm(forms.Form):
    """Tick one step of the plan on its admin page (the step by its id)."""

    step = forms.UUIDField(widget=forms.HiddenInput)
    note = forms.CharField(
        label="Note",
        max_length=300,
        required=False,
        widget=forms.TextInput(
            attrs={"placeholder": "Note (optional)", "aria-label": "Note (optional)"}
        ),
    )


class StartPlanForm(forms.Form):
    partner: forms.ModelChoiceField[Partner] = forms.ModelChoiceField(
        queryset=Partner.objects.none(),
        help_text="Partners without an onboarding plan.",
    )
    template: forms.ModelChoiceField[PlanTemplate] = forms.ModelChoiceField(
        queryset=PlanTemplate.objects.none(),
        required=False,
        empty_label="The active template for its type and tier",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["partner"].queryset = Partner.objects.filter(onboarding_plan__isnull=True).order_by(
            "name"
        )
        fields["template"].queryset = PlanTemplate.objects.filter(is_active=True).select_related(
            "tier"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        partner, template = data.get("partner"), data.get("template")
        if partner is not None and template is not None:
            if template.partner_type != partner.partner_type:
                self.add_error(
                    "template",
                    f"{template} is a template for {template.get_partner_type_display()} "
                    f"partners; {partner} is a {partner.get_partner_type_display()} partner.",
                )
            elif template.tier_id not in (None, partner.tier_id):
                self.add_error(
                    "template",
                    f"{template} is for the {template.tier} tier; {partner} is in {partner.tier}.",
                )
        return data
