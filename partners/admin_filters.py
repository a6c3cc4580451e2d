"""Partner filters for the admin lists of the apps built on the directory:
one partner's rows, chosen from a short list or by link (?partner=<id>),
and the rows of the partners the signed-in channel manager manages
(?manager=me, as on the partner list itself)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from prm.tenancy.admin_filters import ChosenObjectFilter
from prm.tenancy.requests import as_member

from .models import Partner


class PartnerFilter(ChosenObjectFilter):
    """One partner's rows; the sidebar lists the first partners by name."""

    title = "partner"
    parameter_name = "partner"
    field = "partner_id"

    def candidates(self, request: HttpRequest, model_admin: Any) -> QuerySet[Any]:
        return Partner.objects.order_by("name").only("pk", "name")

    def chosen(self, pk: uuid.UUID) -> Partner | None:
        return Partner.objects.filter(pk=pk).only("pk", "name").first()

    def label(self, obj: Any) -> str:
        return str(obj.name)


class ManagedPartnerFilter(PartnerFilter):
    """The sidebar lists the partners the person manages (computing which
    partners have rows would scan them all)."""

    def candidates(self, request: HttpRequest, model_admin: Any) -> QuerySet[Any]:
        return (
            super().candidates(request, model_admin).filter(channel_manager=as_member(request).user)
        )


class PartnerWithRowsFilter(PartnerFilter):
    """The sidebar lists the partners that have rows in this list (for
    small tables: disputes, statements)."""

    def candidates(self, request: HttpRequest, model_admin: Any) -> QuerySet[Any]:
        with_rows = model_admin.model.objects.values("partner_id")
        return super().candidates(request, model_admin).filter(pk__in=with_rows)


class MyPartnersFilter(admin.SimpleListFilter):
    """Rows of the partners the signed-in member manages as their channel
    manager (``partner__channel_manager``)."""

    title = "channel manager"
    parameter_name = "manager"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "My partners")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "me":
            return queryset.filter(partner__channel_manager=as_member(request).user)
        return queryset
