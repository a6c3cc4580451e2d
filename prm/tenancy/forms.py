from typing import Any

from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm as MFABaseAuthenticateForm
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from .models import Membership
from .ratelimits import lockout_message, longest_window, retry_in
from .roles import PARTNER_ROLES, Role

# The partner directory's model, through the membership's reference to it
# (the foundation imports no app).
Partner: Any = Membership._meta.get_field("partner").related_model


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField()
    partner = forms.ModelChoiceField(
        queryset=Partner.objects.none(),
        required=False,
        help_text="Required for partner roles.",
    )

    def __init__(self, *args: Any, membership: Membership, roles: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(Role.choices)
        # No preselected role: a quick "send" must not hand out the first
        # (most powerful) role on the list.
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)
        role_field.choices = [("", "Choose a role"), *((r, labels[r]) for r in roles)]
        if membership.role == Role.PARTNER_ADMIN:
            del self.fields["partner"]
        else:
            partner_field = self.fields["partner"]
            assert isinstance(partner_field, forms.ModelChoiceField)
            partner_field.queryset = Partner.objects.exclude(
                status=Partner.Status.TERMINATED
            ).order_by("name")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        if "partner" in self.fields and cleaned.get("role"):
            if cleaned["role"] in PARTNER_ROLES and not cleaned.get("partner"):
                self.add_error("partner", "Choose the partner organisation this person works for.")
            elif cleaned["role"] not in PARTNER_ROLES and cleaned.get("partner"):
                self.add_error(
                    "partner", "Vendor staff do not belong to a partner; leave this empty."
                )
        return cleaned


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(max_length=200, label="Your name")
    password = forms.CharField(widget=forms.PasswordInput, label="Password", strip=False)
    password_confirm = forms.CharField(
        widget=forms.PasswordInput, label="Password (again)", strip=False
    )

    def __init__(self, *args: Any, existing_account: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.existing_account = existing_account
        if existing_account:
            del self.fields["password_confirm"]
            self.fields["full_name"].required = False
            self.fields["password"].label = "Your current password"
            self.fields[
                "password"
            ].help_text = (
                "You already have an account with this email address (in another program)."
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        if not self.existing_account and cleaned.get("password") != cleaned.get("password_confirm"):
            self.add_error("password_confirm", "The two passwords differ.")
        return cleaned


phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ()./-]{3,38}[0-9]$",
    "Enter a phone number of digits, spaces and + ( ) - . / only, e.g. +49 30 1234567.",
)


class ProfileForm(forms.Form):
    """The member's own name, phone and job title."""

    full_name = forms.CharField(
        max_length=200,
        label="Your name",
        error_messages={"required": "Enter your name: colleagues and partners see it."},
    )
    phone = forms.CharField(
        max_length=40,
        required=False,
        validators=[phone_validator],
        help_text="Optional. Shown to the people you work with in this program.",
    )
    title = forms.CharField(
        max_length=120, required=False, label="Job title", help_text="Optional, e.g. Sales lead."
    )

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise ValidationError("Enter your name: colleagues and partners see it.")
        if any(ord(c) < 32 for c in name):
            raise ValidationError("Your name cannot contain control characters.")
        return name


class MailPreferencesForm(forms.Form):
    """One switch per mailed notification kind the member's role receives."""

    def __init__(self, *args: Any, switches: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for switch in switches:
            self.fields[switch.key] = forms.BooleanField(
                label=switch.label, required=False, initial=switch.email
            )

    def wanted(self) -> list[str]:
        return [key for key, on in self.cleaned_data.items() if on]


class MFAAuthenticateForm(MFABaseAuthenticateForm):
    """allauth's two-factor code form, whose lockout ("too many failed
    attempts") says when to try again, like the login form's."""

    def clean_code(self) -> str:
        try:
            code: str = super().clean_code()
        except forms.ValidationError as error:
            if error.code != "too_many_login_attempts":
                raise
            # allauth counts failed codes per user under this key.
            key = f"mfa-auth-user-{self.user.pk}"
            wait = retry_in(context.request, "login_failed", key=key)
            raise forms.ValidationError(
                lockout_message(wait or longest_window("login_failed")), code=error.code
            ) from error
        return code
