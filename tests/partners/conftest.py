"""Helpers shared by the partner directory tests."""

import pytest
from django import forms
from django.urls import reverse
from django_scopes import scope


def admin_url(view: str, *args, model: str = "partner") -> str:
    return reverse(f"tenant_admin:partners_{model}_{view}", args=args)


def new_partner_post(tier, **overrides) -> dict:
    """POST data for the partner add form, without contacts."""
    data = {
        "name": "Brand New Partner",
        "legal_name": "",
        "website": "https://brand-new.example",
        "partner_type": "reseller",
        "tier": str(tier.pk),
        "status": "prospect",
        "channel_manager": "",
        "country": "US",
        "region": "",
        "address": "",
        "phone": "",
        "notes": "",
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def form_post_data(response) -> dict:
    """The POST data a browser would send back for an admin change form as
    it was rendered (main form and inline formsets), to be edited by a test."""
    data: dict = {}

    def add_form(form):
        for name, field in form.fields.items():
            key = form.add_prefix(name)
            value = form[name].value()
            if isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
                continue
            if value is None:
                value = ""
            if isinstance(value, (list, tuple)):
                data[key] = [str(v) for v in value]
            else:
                data[key] = str(value)

    add_form(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add_form(formset.management_form)
        for form in formset.forms:
            add_form(form)
    return data


@pytest.fixture
def in_acme(acme):
    with scope(tenant=acme.tenant):
        yield acme


@pytest.fixture
def in_globex(globex):
    with scope(tenant=globex.tenant):
        yield globex
