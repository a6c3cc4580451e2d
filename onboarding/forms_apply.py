"""Forms of the public application pages: the application itself (with
the tenant's own questions and a honeypot), and the answer to a reviewer's
question. The rules live in ``applications``."""

import uuid
from typing import Any

from django import forms
from django.forms import BoundField
from django_countries import countries

from partners.models import Partner

from .applications import (
    ANSWER_MAX,
    LONG_TEXT_MAX,
    QUESTION_PREFIX,
    ApplicationInput,
    question_field,
)
from .models import Application, Question

# A field people never see (hidden by CSS, skipped by the keyboard and by
# screen readers) and form-filling robots fill in: a "fax" is plausible on
# a company form. A filled one gets the usual answer and creates nothing.
HONEYPOT = "fax"


def _choices(prompt: str, options: Any) -> list[tuple[str, str]]:
    return [("", prompt), *options]


class ApplicationForm(forms.Form):
    client_token = forms.UUIDField(widget=forms.HiddenInput, required=False)
    company_name = forms.CharField(label="Company name", max_length=200)
    legal_name = forms.CharField(
        label="Registered legal name",
        max_length=200,
        required=False,
        help_text="If it differs from the name above, e.g. “Initech Holdings GmbH”.",
    )
    website = forms.CharField(
        label="Website", max_length=200, required=False, help_text="e.g. initech.com"
    )
    country = forms.ChoiceField(label="Country")
    partner_type = forms.ChoiceField(label="Partnership you are applying for")
    company_size = forms.ChoiceField(label="Company size")
    specialities = forms.CharField(
        label="Specialities",
        required=False,
        max_length=LONG_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What your company is good at: products, services, certifications.",
    )
    markets = forms.CharField(
        label="Markets",
        required=False,
        max_length=LONG_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The industries and regions you sell to.",
    )
    contact_name = forms.CharField(label="Your name", max_length=200)
    contact_email = forms.EmailField(
        label="Your work email",
        help_text="We send a link to this address: the application is sent once you open it.",
    )
    contact_phone = forms.CharField(label="Your phone", max_length=40, required=False)
    fax = forms.CharField(
        label="Fax number",
        required=False,
        help_text="Leave this empty.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args: Any, questions: list[Question], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("client_token", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self._set_choices("country", "Choose a country", countries)
        self._set_choices("partner_type", "Choose one", Partner.Type.choices)
        self._set_choices("company_size", "Choose one", Application.Size.choices)
        self.questions = questions
        for question in questions:
            self.fields[QUESTION_PREFIX + question.key] = question_field(question)

    def _set_choices(self, name: str, prompt: str, options: Any) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _choices(prompt, options)

    def is_trap(self) -> bool:
        """The honeypot was filled: a robot sent this."""
        return bool(str(self.data.get(HONEYPOT, "")).strip())

    def honeypot(self) -> BoundField:
        return self[HONEYPOT]

    def bound(self, *names: str) -> list[BoundField]:
        return [self[name] for name in names]

    def question_fields(self) -> list[BoundField]:
        return [self[QUESTION_PREFIX + q.key] for q in self.questions]

    def to_input(self) -> ApplicationInput:
        data = self.cleaned_data
        return ApplicationInput(
            company_name=data["company_name"],
            legal_name=data["legal_name"],
            website=data["website"],
            country=data["country"],
            partner_type=data["partner_type"],
            company_size=data["company_size"],
            specialities=data["specialities"],
            markets=data["markets"],
            contact_name=data["contact_name"],
            contact_email=data["contact_email"],
            contact_phone=data["contact_phone"],
            answers={q.key: data.get(QUESTION_PREFIX + q.key) for q in self.questions},
        )


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label="Your answer",
        max_length=ANSWER_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
