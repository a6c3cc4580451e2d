"""Tier history in the tenant admin: every dated tier change of every
partner (``TierChange``: who moved where, from which tier, from which day,
why, by whom), read-only for every staff role, filtered by reason, tier,
date and partner, searchable by partner name. A partner's latest changes
also show on its own page (the "Tier history" panel, ``tier_panel``)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from prm import format as fmt
from prm.tenancy.admin_base import TenantModelAdmin, tenant_admin_site
from prm.tenancy.drill import MetricRowsFilter

from .admin_filters import PartnerFilter
from .models import TierChange
from .tier_panel import direction_chip

FIELDS = ["partner", "tier", "previous", "effective_on", "reason", "note", "by", "created_at"]


@admin.register(TierChange, site=tenant_admin_site)
class TierChangeAdmin(TenantModelAdmin):
    # Part of the partner: deleting the partner deletes these with it.
    deleted_with_partner = True
    list_display = ["partner", "tier", "move", "previous", "effective", "reason", "note", "by"]
    list_filter = [MetricRowsFilter, "reason", "tier", "effective_on", PartnerFilter]
    list_select_related = ["partner", "tier", "previous", "by"]
    search_fields = ["partner__name"]
    ordering = ["-effective_on", "-created_at"]
    date_hierarchy = "effective_on"
    fields = tuple(FIELDS)
    readonly_fields = FIELDS

    # The history is append-only: a correction is a new tier change.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="move")
    def move(self, obj: TierChange) -> str:
        return direction_chip(obj)

    @admin.display(description="from", ordering="effective_on")
    def effective(self, obj: TierChange) -> str:
        return fmt.day(obj.effective_on)
