"""What the registrations' admin list and page show: the SLA clock (worked
out once per request), conflict counts and rows, and the list filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from prm.tenancy.models import Membership
from prm.tenancy.requests import as_member, tenant_of
from prm.tenancy.roles import Role

from .conflicts import conflicts_of
from .models import (
    Conflict,
    DealRegistration,
    DealRegSettings,
    ExtensionRequest,
    RegistrationEvent,
)

Status = DealRegistration.Status


# --- The SLA clock, once per request ---------------------------------------------

SLA_LABELS = {
    "on_track": "on track",
    "due_soon": "due soon",
    "breached": "overdue",
    "paused": "paused",
}


@dataclass(frozen=True)
class SlaClock:
    """``services.sla_state`` for many rows at once: the tenant's calendar is
    read once, and "under a quarter of the SLA left" becomes a moment
    (``soon_before``) that a due time can be compared with in SQL."""

    now: datetime
    soon_before: datetime

    @classmethod
    def for_request(cls, request: HttpRequest) -> SlaClock:
        clock = getattr(request, "_dealreg_sla_clock", None)
        if clock is None:
            settings_row = DealRegSettings.for_tenant(tenant_of(request))
            settings_row.tenant = tenant_of(request)
            now = timezone.now()
            quarter = timedelta(hours=settings_row.sla_business_hours) / 4
            # between(now, due) <= quarter  <=>  due < add(now, quarter + 1µs)
            soon = settings_row.calendar().add(now, quarter + timedelta(microseconds=1))
            clock = request._dealreg_sla_clock = cls(now=now, soon_before=soon)  # type: ignore[attr-defined]
        return clock

    @staticmethod
    def paused() -> Q:
        return Q(status=Status.MORE_INFO, sla_paused_at__isnull=False, sla_due_at__isnull=False)

    def running(self) -> Q:
        return Q(status__in=DealRegistration.PENDING, sla_due_at__isnull=False) & ~self.paused()

    def condition(self, state: str) -> Q:
        return {
            "paused": self.paused(),
            "breached": self.running() & Q(sla_due_at__lte=self.now),
            "due_soon": self.running()
            & Q(sla_due_at__gt=self.now, sla_due_at__lt=self.soon_before),
            "on_track": self.running() & Q(sla_due_at__gte=self.soon_before),
        }[state]

    def annotation(self) -> Case:
        return Case(
            *(When(self.condition(state), then=Value(state)) for state in SLA_LABELS),
            default=Value(""),
            output_field=CharField(),
        )


def conflict_count() -> CombinedExpression:
    """Stored conflicts of a registration, both sides, each counterpart once
    (a pair checked from both ends is stored twice)."""
    own = (
        Conflict.objects.filter(registration=OuterRef("pk"))
        .order_by()
        .values("registration")
        .annotate(n=Count("pk"))
        .values("n")
    )
    mirrored = Conflict.objects.filter(
        registration_id=OuterRef("other_registration_id"),
        other_registration_id=OuterRef("registration_id"),
    )
    theirs = (
        Conflict.objects.filter(other_registration=OuterRef("pk"))
        .exclude(Exists(mirrored))
        .order_by()
        .values("other_registration")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(own, output_field=IntegerField()), 0) + Coalesce(
        Subquery(theirs, output_field=IntegerField()), 0
    )


def conflict_rows(registration: DealRegistration) -> list[dict[str, Any]]:
    """``conflicts_of`` with each counterpart once, first-to-file order kept;
    of a pair stored from both ends, this registration's own row is shown."""
    rows = conflicts_of(registration)
    own = {
        row["other"].pk
        for row in rows
        if row["other"] is not None and row["conflict"].registration_id == registration.pk
    }
    shown, seen = [], set()
    for row in rows:
        other = row["other"]
        if other is not None:
            if other.pk in seen:
                continue
            if row["conflict"].registration_id != registration.pk and other.pk in own:
                continue
            seen.add(other.pk)
        shown.append(row)
    return shown


# --- Work queues: the list's views ----------------------------------------------------


def needs_decision(membership: Membership) -> Q:
    """Registrations waiting for this member's decision: submitted (the
    clock runs; one sent back for information waits for the partner) and
    theirs to decide: routed to them, or routed to nobody and theirs to
    decide anyway (any, for ops; their partners', for a channel manager).
    Nothing for those who do not decide."""
    if not membership.has_perm("dealreg.decide_dealregistration"):
        return Q(pk__in=[])
    unrouted = Q(approver__isnull=True)
    if membership.role != Role.OPS_ADMIN:
        unrouted &= Q(partner__channel_manager_id=membership.user_id)
    return Q(status=Status.SUBMITTED) & (Q(approver_id=membership.user_id) | unrouted)


def partner_answered() -> Q:
    """Submitted again after the partner answered a request for information."""
    answered = RegistrationEvent.objects.filter(
        registration=OuterRef("pk"), kind=RegistrationEvent.Kind.INFO_PROVIDED
    )
    return Q(status=Status.SUBMITTED) & Q(Exists(answered))


# Query parameters of the admin list that do not filter it.
NOT_FILTERS = frozenset({"o", "p", "e", "_changelist_filters"})
QUEUES = {
    "decide": "Needs my decision",
    "answered": "Answered by the partner",
    "overdue": "Overdue",
    "partner": "Waiting for the partner",
    "mine": "Assigned to me",
    "all": "All",
}
# Views read in deadline order, oldest due first (unless a column is sorted).
BY_DEADLINE = frozenset({"decide", "answered", "overdue", "partner"})


def current_queue(request: HttpRequest) -> str:
    """The list's view: the one asked for; else "Needs my decision" for
    those who decide when nothing else filters the list (a link to a
    filtered list, such as a home card's count, lists exactly its rows);
    else all."""
    asked = request.GET.get(QueueFilter.parameter_name)
    if asked in QUEUES:
        return str(asked)
    # (A bulk action posts back to the list: it acts on the rows selected.)
    unfiltered = (
        request.method == "GET"
        and asked is None
        and not any(key not in NOT_FILTERS for key in request.GET)
    )
    decides = as_member(request).membership.has_perm("dealreg.decide_dealregistration")
    return "decide" if unfiltered and decides else "all"


class QueueFilter(admin.SimpleListFilter):
    """The list's views (``current_queue``), each a work queue."""

    title = "view"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        decides = as_member(request).membership.has_perm("dealreg.decide_dealregistration")
        views = QUEUES if decides else {k: QUEUES[k] for k in ("overdue", "partner", "all")}
        return list(views.items())

    def value(self) -> str:
        return current_queue(self.request)

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
        asked = request.GET.get(self.parameter_name)
        if asked is not None and asked not in QUEUES:
            messages.warning(request, f'There is no view "{asked[:40]}": showing all.')
        view = self.value()
        membership = as_member(request).membership
        if view == "decide":
            return queryset.filter(needs_decision(membership))
        if view == "answered":
            return queryset.filter(needs_decision(membership) & partner_answered())
        if view == "overdue":
            return queryset.filter(SlaClock.for_request(request).condition("breached"))
        if view == "partner":
            return queryset.filter(status=Status.MORE_INFO)
        if view == "mine":
            return queryset.filter(approver_id=membership.user_id)
        return queryset


# --- Registration list filters ------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """The statuses the admin lists (drafts stay the partner's own)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(value, label) for value, label in Status.choices if value != Status.DRAFT]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(status=self.value())
        return queryset


class SlaStateFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [(state, label.capitalize()) for state, label in SLA_LABELS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in SLA_LABELS:
            return queryset.filter(SlaClock.for_request(request).condition(str(self.value())))
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title = "assigned"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [
            ("me", "Assigned to me"),
            ("my_partners", "My partners"),
            ("nobody", "No approver"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "me":
            return queryset.filter(approver=request.user)
        if self.value() == "my_partners":
            return queryset.filter(partner__channel_manager=request.user)
        if self.value() == "nobody":
            return queryset.filter(approver__isnull=True)
        return queryset


class ExtensionFilter(admin.SimpleListFilter):
    title = "extension"
    parameter_name = "extension"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return [("pending", "Extension requested")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "pending":
            pending = ExtensionRequest.objects.filter(
                registration=OuterRef("pk"), status=ExtensionRequest.Status.PENDING
            )
            return queryset.filter(Exists(pending))
        return queryset
