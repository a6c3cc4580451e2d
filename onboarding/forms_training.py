"""The partner portal's training form: report a completed course or an
earned certification, with its certificate, for staff to confirm."""

from __future__ import annotations

from typing import Any

from django import forms

from prm.tenancy.models import Membership
from prm.tenancy.roles import Role

from .models import Certification, Course

CERT = "cert"
COURSE = "course"


class PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        user = obj.user
        return f"{user.full_name} ({user.email})" if user.full_name else user.email


class ReportForm(forms.Form):
    """Who (a partner admin picks any active colleague; anyone else reports
    for themselves), what, when, and the certificate."""

    person = PersonChoice(
        queryset=Membership.objects.none(),
        label="Person",
        empty_label=None,
        error_messages={"invalid_choice": "Choose an active colleague of your organisation."},
    )
    achievement = forms.ChoiceField(
        label="Course or certification",
        error_messages={
            "required": "Choose the course or certification.",
            "invalid_choice": "Choose a course or certification the vendor offers.",
        },
    )
    completed_on = forms.DateField(
        label="Completed or earned on",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Give the date.", "invalid": "Give a date (YYYY-MM-DD)."},
    )
    certificate_id = forms.CharField(
        label="Certificate number", max_length=100, required=False, help_text="If it has one."
    )
    score = forms.DecimalField(
        label="Score", max_digits=5, decimal_places=1, min_value=0, required=False
    )
    document = forms.FileField(
        label="Certificate",
        help_text="A PDF, PNG or JPEG file of the certificate or completion notice.",
        error_messages={"required": "Attach the certificate."},
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.membership = membership
        fields: Any = self.fields
        assert membership.partner_id is not None  # portal.training is a partner role's
        if membership.role == Role.PARTNER_ADMIN:
            fields["person"].queryset = (
                Membership.objects.filter(partner_id=membership.partner_id, is_active=True)
                .select_related("user")
                .order_by("user__full_name", "user__email")
            )
            fields["person"].initial = membership.pk
        else:
            del fields["person"]
        self.certifications = {str(c.pk): c for c in Certification.objects.filter(is_active=True)}
        self.courses = {str(c.pk): c for c in Course.objects.filter(is_active=True)}
        fields["achievement"].choices = [
            ("", "Choose…"),
            ("Certifications", [(f"{CERT}:{k}", c.name) for k, c in self.certifications.items()]),
            ("Courses", [(f"{COURSE}:{k}", str(c)) for k, c in self.courses.items()]),
        ]

    def clean_achievement(self) -> Course | Certification:
        kind, _, key = self.cleaned_data["achievement"].partition(":")
        found = (self.certifications if kind == CERT else self.courses).get(key)
        if found is None:  # the choices already refuse it; a catalogue change in between
            raise forms.ValidationError("Choose a course or certification the vendor offers.")
        return found

    def clean_certificate_id(self) -> str:
        return str(self.cleaned_data["certificate_id"]).strip()

    def person_or_self(self) -> Membership:
        return self.cleaned_data.get("person") or self.membership
