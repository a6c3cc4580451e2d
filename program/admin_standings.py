"""Partners about to move, in the tenant admin: the standings (from the last
evaluation) of the partners whose qualifying tier differs from the tier they
hold and whom the next evaluation or review moves (``moving.movers``),
grace periods ending first. Read-only: the evaluation writes standings.

Filters: direction (up: an upgrade waiting for the review; down: a grace
period), grace periods ending within the policy's notice days, the partners
the person manages, the tier held. Every staff role reads it
(``program.view_tierstanding``); a constant number of queries per page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from partners.admin_filters import MyPartnersFilter
from partners.models import Tier
from prm import format as fmt
from prm.tenancy.admin_base import TenantModelAdmin, tenant_admin_site
from prm.tenancy.chips import chip
from prm.tenancy.drill import MetricRowsFilter
from prm.tenancy.requests import tenant_of

from . import moving
from .models import TierStanding

CHANGELIST = "tenant_admin:program_tierstanding_changelist"


class DirectionFilter(admin.SimpleListFilter):
    title = "direction"
    parameter_name = "direction"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("up", "Moving up (waiting for the review)"),
            ("down", "Moving down (grace period)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "up":
            return queryset.filter(moving.up())
        if self.value() == "down":
            return queryset.filter(moving.down())
        return queryset


class GraceEndingFilter(admin.SimpleListFilter):
    title = "grace period"
    parameter_name = "grace"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        days = moving.notice_days(tenant_of(request))
        return [("soon", f"Ending within {fmt.plural(days, 'day')}")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "soon":
            tenant = tenant_of(request)
            days = moving.notice_days(tenant)
            return queryset.filter(moving.ending_by(tenant.local_today(), days))
        return queryset


class TierHeldFilter(admin.SimpleListFilter):
    title = "tier held"
    parameter_name = "tier"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(t.pk), t.name) for t in Tier.objects.order_by("rank").only("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and value in {k for k, _ in self.lookup_choices}:
            return queryset.filter(partner__tier_id=value)
        return queryset


@admin.register(TierStanding, site=tenant_admin_site)
class TierStandingAdmin(TenantModelAdmin):
    # Part of the partner: deleting the partner deletes these with it.
    deleted_with_partner = True
    list_display = ["partner_link", "tier_now", "qualifies_for", "grace", "evaluated_on"]
    list_filter = [
        MetricRowsFilter,
        DirectionFilter,
        GraceEndingFilter,
        MyPartnersFilter,
        TierHeldFilter,
    ]
    search_fields = ["partner__name"]
    fields = ["partner", "qualifying_tier", "grace_until", "evaluated_on", "evaluated_at"]
    readonly_fields = ["partner", "qualifying_tier", "grace_until", "evaluated_on", "evaluated_at"]
    list_display_links = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        tenant = tenant_of(request)
        return (
            moving.movers(tenant, tenant.local_today())
            .filter(pk__in=super().get_queryset(request).values("pk"))
            .order_by(F("grace_until").asc(nulls_last=True), "partner__name")
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:
        context = {"title": "Partners about to move", **(extra_context or {})}
        return super().changelist_view(request, context)

    @admin.display(description="partner", ordering="partner__name")
    def partner_link(self, obj: TierStanding) -> str:
        url = reverse("tenant_admin:partners_partner_change", args=[obj.partner_id])
        return format_html('<a href="{}#tier">{}</a>', url, obj.partner.name)

    @admin.display(description="tier now", ordering="partner__tier__rank")
    def tier_now(self, obj: TierStanding) -> str:
        return obj.partner.tier.name

    @admin.display(description="qualifies for", ordering="qualifying_tier__rank")
    def qualifies_for(self, obj: TierStanding) -> str:
        up = obj.qualifying_tier.rank > obj.partner.tier.rank
        return chip(obj.qualifying_tier.name, "met" if up else "due_soon")

    @admin.display(description="grace until", ordering="grace_until")
    def grace(self, obj: TierStanding) -> str:
        if obj.grace_until is None:
            return fmt.EMPTY
        # The tenant's time zone is the request's (the middleware activates it).
        left = (obj.grace_until - timezone.localdate()).days
        text = f"{fmt.plural(left, 'day')} left" if left >= 0 else "ended"
        return format_html("{} ({})", fmt.day(obj.grace_until), text)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
