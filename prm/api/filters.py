"""The filter backend of every API list (django-filter's, made safe).

A time given with any UTC offset (``?updated_since=2026-11-01T09:00:00+05:30``)
is turned into UTC before it reaches the query: PostgreSQL refuses offsets
past ±15:59 that Python accepts, and a year-1 time with an offset overflows.
Such a value is a 422 on its parameter, like any other bad filter value."""

from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from rest_framework import exceptions


class SafeFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        cleaned = filterset.form.cleaned_data
        for name, value in list(cleaned.items()):
            if isinstance(value, datetime) and value.tzinfo is not None:
                try:
                    cleaned[name] = value.astimezone(UTC)
                except OverflowError:
                    raise exceptions.ValidationError(
                        {name: ["This time is out of range once turned into UTC."]}
                    ) from None
        return filterset.filter_queryset(queryset)
