"""The forms that make an API key: on the portal (a partner admin's key,
acting as themselves) and in the admin (ops, a key acting as any active
staff member). Both ask for a name, the scopes as a grid of resources by
read / read and write, and an expiry day or, explicitly, none. The rules
are ``keys.create_key``'s: its refusal is shown on the field it names."""

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from prm.tenancy.errors import ServiceError
from prm.tenancy.models import Membership, Tenant
from prm.tenancy.roles import STAFF_ROLES

from . import keys

# A new key expires this many days after today unless the person says otherwise.
DEFAULT_DAYS = 90
ACCESS = (("read", "Read"), ("write", "Read and write"))


def all_scopes() -> list[tuple[str, str]]:
    """Every scope a key of some role may hold: each resource readable and,
    where any of its endpoints writes, writable."""
    choices = []
    for resource in keys.resources().values():
        choices.append((f"{resource.name}:read", f"{resource.name}: read"))
        if resource.write_perms:
            choices.append((f"{resource.name}:write", f"{resource.name}: read and write"))
    return choices


def offered_scopes(membership: Membership) -> list[str]:
    return [value for value, _label in keys.scope_choices(membership)]


class ScopeGrid(forms.CheckboxSelectMultiple):
    """The scopes as a table: a row per resource, a checkbox for "read" and
    one for "read and write" where ``offered`` holds that scope (a dash
    where no member the form offers may have it)."""

    template = "api/_scope_grid.html"

    def __init__(self, offered: Iterable[str] = (), attrs: dict[str, Any] | None = None):
        super().__init__(attrs)
        self.offered = set(offered)

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        if value is None:
            chosen: set[str] = set()
        elif isinstance(value, str):
            chosen = {value}
        else:
            chosen = {str(v) for v in value}
        base = (attrs or {}).get("id") or self.attrs.get("id") or f"id_{name}"
        choices = dict(self.choices)
        rows = []
        for resource in keys.resources():
            cells = []
            for access, heading in ACCESS:
                scope = f"{resource}:{access}"
                cells.append(
                    {
                        "scope": scope,
                        "heading": heading,
                        "offered": scope in choices and scope in self.offered,
                        "checked": scope in chosen,
                        "id": f"{base}_{resource}_{access}",
                    }
                )
            rows.append({"resource": resource, "cells": cells})
        context = {"name": name, "rows": rows, "id": base, "headings": [h for _a, h in ACCESS]}
        # The template escapes what it shows; its output is safe HTML.
        return mark_safe(render_to_string(self.template, context))  # noqa: S308


class MemberSelect(forms.Select):
    """The members a key may act as, each option naming the scopes that
    member may give (``data-scopes``): static/js/api_keys.js leaves only
    those open in the grid when the choice changes."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        member = getattr(value, "instance", None)
        if isinstance(member, Membership):
            option["attrs"]["data-scopes"] = " ".join(offered_scopes(member))
        return option


class KeyFields(forms.Form):
    """What every new key asks, and the expiry as an instant (``expiry``)."""

    name = forms.CharField(
        max_length=120,
        required=False,  # create_key says what a name is for
        help_text="What the key is for, e.g. “CRM sync”. Shown in the list of keys.",
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        required=False,  # create_key asks for at least one, in its words
        help_text="What the key may read or change. It never does more than the member "
        "it acts as may do.",
    )
    expires_at = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The key works through this day (in the program's time zone).",
    )
    no_expiry = forms.BooleanField(
        label="No expiry",
        required=False,
        help_text="Only for a key you replace by hand: a key that never expires keeps "
        "working if it leaks, until someone revokes it.",
    )
    # Names the form: sent twice (a double click), it makes one key.
    form_token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    tenant: Tenant
    refusal: ServiceError | None = None

    def setup_key_fields(self, tenant: Tenant, offered: Iterable[str]) -> None:
        self.tenant = tenant
        field = self.fields["scopes"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = all_scopes()
        field.widget = ScopeGrid(offered)
        field.widget.choices = field.choices
        self.fields["expires_at"].initial = tenant.local_today() + timedelta(days=DEFAULT_DAYS)
        if not self.is_bound:
            self.initial.setdefault("form_token", uuid.uuid4())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        no_day = not cleaned.get("no_expiry") and not cleaned.get("expires_at")
        if no_day and "expires_at" not in self.errors:
            self.add_error("expires_at", "Choose the day the key expires, or tick “No expiry”.")
        if self.refusal is not None:
            field = self.refusal.field if self.refusal.field in self.fields else None
            self.add_error(field, str(self.refusal))
        return cleaned

    @property
    def expiry(self) -> datetime | None:
        """When the key stops working (None: never), from a valid form."""
        if self.cleaned_data.get("no_expiry"):
            return None
        return keys.end_of_day(self.cleaned_data["expires_at"], self.tenant)

    def key_input(self) -> dict[str, Any]:
        """``create_key``'s keyword arguments from a valid form (all but who)."""
        token = self.cleaned_data.get("form_token")
        return {
            "name": self.cleaned_data.get("name") or "",
            "scopes": list(self.cleaned_data.get("scopes") or []),
            "expires_at": self.expiry,
            "form_token": str(token) if token else None,
        }


class PartnerKeyForm(KeyFields):
    """A partner admin's key: it acts as them, with the scopes their role may have."""

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, membership: Membership, tenant: Tenant
    ) -> None:
        super().__init__(data)
        self.setup_key_fields(tenant, offered_scopes(membership))


def staff_members(tenant: Tenant) -> QuerySet[Membership]:
    """Who a staff key may act as: the tenant's active staff members."""
    return (
        Membership.objects.filter(
            tenant=tenant, is_active=True, user__is_active=True, role__in=sorted(STAFF_ROLES)
        )
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


class MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.user} · {obj.get_role_display()}"


class StaffKeyForm(KeyFields, forms.ModelForm):
    """The admin's "Add API key" page. No Meta: the admin builds the form
    per request (``ApiKeyAdmin.get_form`` sets ``tenant`` and the ops
    person, ``member``) inside the tenant's scope."""

    FIELDS = ["name", "membership", "scopes", "expires_at", "no_expiry", "form_token"]
    membership = MemberChoice(
        queryset=Membership.objects.none(),
        label="Acts as",
        widget=MemberSelect(attrs={"data-scope-member": ""}),
        help_text="The key acts with this person's role, never beyond it, and stops "
        "working if they are deactivated. Partner keys are made by partner admins "
        "on the portal.",
    )
    member: Membership

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["membership"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = staff_members(self.tenant)
        field.initial = self.member.pk
        # The grid offers what any of them may have; the choice of member
        # narrows it (in the browser, and in create_key).
        roles = {member.role: member for member in field.queryset}
        offered = {scope for member in roles.values() for scope in offered_scopes(member)}
        self.setup_key_fields(self.tenant, offered)

    def _post_clean(self) -> None:
        pass  # create_key checks and makes the key (ApiKeyAdmin.save_model)
