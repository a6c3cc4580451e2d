"""Forms of compliance reviews: the partner admin's answers in the portal
and the reviewer's decision in the admin."""

from django import forms


class AttestForm(forms.Form):
    confirm = forms.BooleanField(
        label="I confirm this is true for our organisation",
        error_messages={"required": "Tick the box to attest this item."},
    )
    name = forms.CharField(
        label="Your name",
        max_length=120,
        help_text="As you would sign it.",
        error_messages={"required": "Type your name to attest this item."},
    )


class FileForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="A PDF, PNG or JPEG file.",
        error_messages={"required": "Choose the file to upload."},
    )


class SignOffForm(forms.Form):
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label="What must the partner change?",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say what the partner must change."},
    )
