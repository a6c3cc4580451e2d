"""List filters the apps' admin lists share: one object chosen by its id."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest


class ChosenObjectFilter(admin.SimpleListFilter, ABC):
    """Rows pointing at one object, chosen by id (``?<parameter>=<uuid>``).

    The sidebar lists ``candidates`` (a short list: at thousands of objects a
    full one is no use) and, first, the chosen object when it is not among
    them, so a link from elsewhere (a partner's page) shows what it chose.
    An id that is not one lists nothing. Subclasses set ``title``,
    ``parameter_name`` and ``field`` (the rows' foreign key) and write
    ``candidates``, ``chosen`` and ``label``.
    """

    field = ""
    LISTED = 100

    @abstractmethod
    def candidates(self, request: HttpRequest, model_admin: Any) -> QuerySet[Any]:
        """The objects the sidebar offers (the first ``LISTED``)."""

    @abstractmethod
    def chosen(self, pk: uuid.UUID) -> Model | None:
        """The object with this id, if the tenant has it."""

    def label(self, obj: Any) -> str:
        return str(obj)

    def selected(self) -> uuid.UUID | None:
        value = self.value()
        try:
            return uuid.UUID(str(value)) if value else None
        except ValueError:
            return None

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        choices = [
            (str(obj.pk), self.label(obj))
            for obj in self.candidates(request, model_admin)[: self.LISTED]
        ]
        selected = self.selected()
        if selected and str(selected) not in dict(choices):
            obj = self.chosen(selected)
            if obj is not None:
                choices.insert(0, (str(obj.pk), self.label(obj)))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() is None:
            return queryset
        selected = self.selected()
        return queryset.filter(**{self.field: selected}) if selected else queryset.none()
