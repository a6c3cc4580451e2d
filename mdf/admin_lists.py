"""What the fund request and claim queues in the admin share: the decision
deadline's state worked out once per request (overdue, due soon, on track,
waiting for the partner) and the list filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import admin
from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone

from partners.admin_filters import PartnerFilter
from prm.tenancy.requests import as_member, tenant_of

from .models import FundType

# The colours of the list (classes of static/admin/dealreg.css).
DEADLINE_LABELS = {
    "breached": "overdue",
    "due_soon": "due soon",
    "on_track": "on track",
    "paused": "waiting for the partner",
}
# "Due soon": within a working day of the deadline.
SOON = timedelta(hours=24)


@dataclass(frozen=True)
class DeadlineClock:
    """Where a decision stands against its ``due_at``, for many rows at
    once in SQL: moments computed once per request in the tenant's zone."""

    now: datetime
    soon_before: datetime
    today_ends: datetime
    week_ends: datetime

    @classmethod
    def at(cls, tenant: Any, now: datetime | None = None) -> DeadlineClock:
        now = now or timezone.now()
        local = tenant.local_now(now)
        today = local.date()
        midnight = datetime.combine(today, time.min, tzinfo=local.tzinfo) + timedelta(days=1)
        days_left = 7 - today.weekday()  # to the start of next Monday
        return cls(
            now=now,
            soon_before=now + SOON,
            today_ends=midnight,
            week_ends=midnight + timedelta(days=days_left - 1),
        )

    @classmethod
    def for_request(cls, request: HttpRequest) -> DeadlineClock:
        clock = getattr(request, "_mdf_deadline_clock", None)
        if clock is None:
            clock = cls.at(tenant_of(request))
            request._mdf_deadline_clock = clock  # type: ignore[attr-defined]
        return clock

    def running(self) -> Q:
        return Q(status="submitted", due_at__isnull=False)

    def condition(self, state: str) -> Q:
        return {
            "paused": Q(status="more_info_requested"),
            "breached": self.running() & Q(due_at__lte=self.now),
            "due_soon": self.running() & Q(due_at__gt=self.now, due_at__lt=self.soon_before),
            "on_track": self.running() & Q(due_at__gte=self.soon_before),
            "today": self.running() & Q(due_at__gt=self.now, due_at__lt=self.today_ends),
            "week": self.running() & Q(due_at__gt=self.now, due_at__lt=self.week_ends),
        }[state]

    def annotation(self) -> Case:
        return Case(
            *(When(self.condition(state), then=Value(state)) for state in DEADLINE_LABELS),
            default=Value(""),
            output_field=CharField(),
        )


class StatusFilter(admin.SimpleListFilter):
    """The statuses the admin lists (drafts stay the partner's own)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(v, label) for v, label in model_admin.model.Status.choices if v != "draft"]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(status=self.value())
        return queryset


class DeadlineFilter(admin.SimpleListFilter):
    title = "decision due"
    parameter_name = "deadline"
    CHOICES = {
        "overdue": ("Overdue", "breached"),
        "today": ("Due today", "today"),
        "week": ("Due this week", "week"),
        "partner": ("Waiting for the partner", "paused"),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(key, label) for key, (label, _) in self.CHOICES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = self.CHOICES.get(str(self.value()))
        if chosen is None:
            return queryset
        return queryset.filter(DeadlineClock.for_request(request).condition(chosen[1]))


class FundTypeFilter(admin.SimpleListFilter):
    title = "fund type"
    parameter_name = "fund_type"
    field = "fund_type_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(str(pk), name) for pk, name in FundType.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        known = dict(self.lookup_choices)
        return queryset.filter(**{self.field: value}) if value in known else queryset.none()


class ClaimFundTypeFilter(FundTypeFilter):
    field = "request__fund_type_id"


class RequestAssignedFilter(admin.SimpleListFilter):
    """Mine: routed to me, or of a partner I manage."""

    title = "assigned"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("me", "Assigned to me"), ("nobody", "No approver")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        user = as_member(request).user
        if self.value() == "me":
            return queryset.filter(Q(approver=user) | Q(partner__channel_manager=user))
        if self.value() == "nobody":
            return queryset.filter(approver__isnull=True)
        return queryset


class ClaimAssignedFilter(admin.SimpleListFilter):
    """Mine: for finance and ops every claim waiting for a decision; for a
    channel manager the waiting claims of their partners."""

    title = "assigned"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("me", "Assigned to me")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() != "me":
            return queryset
        membership = as_member(request).membership
        pending = queryset.filter(status__in=["submitted", "more_info_requested"])
        if membership.has_perm("mdf.decide_claim"):
            return pending
        return pending.filter(partner__channel_manager=membership.user)


class SecondApprovalFilter(admin.SimpleListFilter):
    """Pending requests by stage: the first decision, or the second approval
    of a large request (ops or finance)."""

    title = "approval"
    parameter_name = "second"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("no", "First decision"), ("yes", "Second approval")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(status="submitted", first_approved_by__isnull=False)
        if self.value() == "no":
            return queryset.filter(first_approved_by__isnull=True)
        return queryset


class VerifiedFilter(admin.SimpleListFilter):
    title = "checked by the channel manager"
    parameter_name = "verified"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("yes", "Checked"), ("no", "Not checked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(verified_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(verified_at__isnull=True)
        return queryset


class DuplicateFilter(admin.SimpleListFilter):
    title = "same invoice"
    parameter_name = "duplicate"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("yes", "Claimed elsewhere too"), ("no", "No other claim")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.exclude(duplicate_of=[])
        if self.value() == "no":
            return queryset.filter(duplicate_of=[])
        return queryset


__all__ = [
    "DEADLINE_LABELS",
    "ClaimAssignedFilter",
    "ClaimFundTypeFilter",
    "DeadlineClock",
    "DeadlineFilter",
    "DuplicateFilter",
    "FundTypeFilter",
    "PartnerFilter",
    "RequestAssignedFilter",
    "SecondApprovalFilter",
    "StatusFilter",
    "VerifiedFilter",
]
