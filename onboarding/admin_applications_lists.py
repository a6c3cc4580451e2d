"""The application queue's list: its filters (status, waiting by default;
mine to decide; overdue; duplicates) and the decision deadline's state,
worked out once per request in SQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone

from prm.tenancy.requests import as_member

from .models import Application
from .vetting import assigned_to, overdue

Status = Application.Status

# The deadline's states, drawn with static/admin/dealreg.css's colours.
DEADLINE_LABELS = {
    "breached": "overdue",
    "due_soon": "due soon",
    "on_track": "on time",
    "paused": "waiting for the applicant",
}
SOON = timedelta(hours=24)


def _now(request: HttpRequest) -> Any:
    """One moment per request, for every row and filter alike."""
    now = getattr(request, "_onboarding_now", None)
    if now is None:
        now = timezone.now()
        request._onboarding_now = now  # type: ignore[attr-defined]
    return now


def deadline_state(request: HttpRequest) -> Case:
    now = _now(request)
    running = Q(status=Status.SUBMITTED, due_at__isnull=False)
    return Case(
        When(running & Q(due_at__lte=now), then=Value("breached")),
        When(running & Q(due_at__lt=now + SOON), then=Value("due_soon")),
        When(running, then=Value("on_track")),
        When(status=Status.MORE_INFO, then=Value("paused")),
        default=Value(""),
        output_field=CharField(),
    )


ALL = "all"


def current_status(request: HttpRequest) -> str:
    """The status the list shows: the one asked for; else, unless the list
    is searched, the queue (waiting for review)."""
    asked = request.GET.get(StatusFilter.parameter_name)
    if asked is not None:
        return str(asked)
    return ALL if request.GET.get("q") else Status.SUBMITTED


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [*Status.choices, (ALL, "All")]

    def value(self) -> str:
        return current_status(self.request)

    def choices(self, changelist: Any) -> Any:
        current = self.value()
        for key, label in self.lookup_choices:
            yield {
                "selected": key == current,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: key}, [self.parameter_name, "p"]
                ),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == ALL:
            return queryset
        if value in Status.values:
            return queryset.filter(status=value)
        return queryset.none()


class ReviewerFilter(admin.SimpleListFilter):
    """Mine: routed to me (for ops also those routed to nobody, which ops
    review); or those no rule routed."""

    title = "reviewer"
    parameter_name = "reviewer"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("me", "Mine to decide"), ("ops", "Ops (no reviewer)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "me":
            return queryset.filter(assigned_to(as_member(request).membership))
        if self.value() == "ops":
            return queryset.filter(reviewer__isnull=True)
        return queryset


class DeadlineFilter(admin.SimpleListFilter):
    title = "decision due"
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [
            ("overdue", "Overdue"),
            ("soon", "Due within a day"),
            ("applicant", "Waiting for the applicant"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = _now(request)
        if self.value() == "overdue":
            return queryset.filter(overdue(now))
        if self.value() == "soon":
            return queryset.filter(status=Status.SUBMITTED, due_at__gt=now, due_at__lt=now + SOON)
        if self.value() == "applicant":
            return queryset.filter(status=Status.MORE_INFO)
        return queryset


class DuplicateFilter(admin.SimpleListFilter):
    title = "duplicates"
    parameter_name = "duplicate"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("yes", "Already a partner or applied"), ("no", "No duplicate found")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        found = Q(duplicate_partner__isnull=False) | Q(duplicate_application__isnull=False)
        if self.value() == "yes":
            return queryset.filter(found)
        if self.value() == "no":
            return queryset.exclude(found)
        return queryset


__all__ = [
    "DEADLINE_LABELS",
    "DeadlineFilter",
    "DuplicateFilter",
    "ReviewerFilter",
    "StatusFilter",
    "current_status",
    "deadline_state",
]
