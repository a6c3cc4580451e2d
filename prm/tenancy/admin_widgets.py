"""Admin widgets that never put a request value into a query unchecked.

Django's autocomplete widgets render the chosen option by looking up the
submitted value (``?partner=`` on an add page, or a re-rendered form after
an error) with ``filter(pk__in=[value])``: a value that is not an id of the
target's type (``abc`` for a UUID) raises in the query and the page answers
500 instead of showing the form's error. These drop such values before the
lookup; the form field still reports them ("Select a valid choice").
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db import models


def valid_ids(field: models.Field[Any, Any], values: Any) -> list[str]:
    """The ``values`` that are ids of the model ``field`` points at (by the
    field it points at): anything else would fail in a query, not find
    nothing."""
    remote = field.remote_field
    if remote is None:
        return []
    target_model = remote.model
    target_name = getattr(remote, "field_name", None) or target_model._meta.pk.name
    target = target_model._meta.get_field(target_name)
    if not isinstance(target, models.Field):
        return []
    kept = []
    for value in values:
        try:
            target.get_prep_value(target.to_python(value))
        except (ValidationError, ValueError, TypeError, OverflowError):
            continue
        if isinstance(target, models.IntegerField) and not _fits(target, value):
            continue
        kept.append(value)
    return kept


def _fits(field: models.IntegerField[Any, Any], value: Any) -> bool:
    """An integer id within the column's range (PostgreSQL refuses a query
    with a bigint out of range)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return False
    return -(2**63) <= number < 2**63


class SafeAutocompleteSelect(AutocompleteSelect):
    def optgroups(self, name: str, value: Any, attrs: Any = None) -> Any:
        return super().optgroups(name, valid_ids(self.field, value), attrs)


class SafeAutocompleteSelectMultiple(AutocompleteSelectMultiple):
    def optgroups(self, name: str, value: Any, attrs: Any = None) -> Any:
        return super().optgroups(name, valid_ids(self.field, value), attrs)


def autocomplete_widget(
    db_field: models.Field[Any, Any], admin_site: Any, using: str | None
) -> AutocompleteSelect | AutocompleteSelectMultiple:
    """The safe autocomplete widget for a foreign key or many-to-many field."""
    widget = (
        SafeAutocompleteSelectMultiple
        if isinstance(db_field, models.ManyToManyField)
        else SafeAutocompleteSelect
    )
    return widget(db_field, admin_site, using=using)
