"""Where a later app adds to the partner's registration form.

Deal registration cannot import the apps built on it, so they reach its
form through the signal ``registration_form_fields``: it is sent when the
partner's form is built (a new registration or a draft being edited), with
``membership`` (the partner member filling it in) and ``registration``
(None for a new one). A receiver returns an ``Extension`` (or None to add
nothing): form fields, named with its app's label as a prefix
(``mdf_source``), and ``save(registration, values)``, which is called with
the fields' cleaned values once the registration is saved, in the same
transaction (an error it raises undoes the registration's save).

A receiver validates what it offers itself: its field's queryset holds
only what the member may choose, so a value posted from elsewhere is a
field error and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.dispatch import Signal

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

    from .models import DealRegistration

# Sent with membership=, registration=; each receiver returns an Extension or None.
registration_form_fields = Signal()


@dataclass(frozen=True)
class Extension:
    """Fields a receiver adds to the form, and what saves their values."""

    fields: Mapping[str, forms.Field]
    save: Callable[[DealRegistration, Mapping[str, Any]], None]
    legend: str = ""


def collect(membership: Membership, registration: DealRegistration | None) -> list[Extension]:
    """The extensions the installed apps add for this member's form."""
    found = registration_form_fields.send(
        sender=None, membership=membership, registration=registration
    )
    responses: list[Any] = [response for _, response in found]
    return [response for response in responses if isinstance(response, Extension)]


def save(
    extensions: list[Extension], registration: DealRegistration, cleaned: Mapping[str, Any]
) -> None:
    """Give each extension its fields' cleaned values (call inside the
    transaction that saved the registration)."""
    for extension in extensions:
        extension.save(registration, {name: cleaned.get(name) for name in extension.fields})
