"""Drilling from a metric into the rows it counts.

A metric that declares ``rows`` (``PRMApp.metrics``) can be opened as the
admin list of exactly those rows: ``drill_url`` builds the link, and
``MetricRowsFilter`` (in the model admin's ``list_filter``) reads it back.
The whole drill travels in one query parameter,
``?drill=<metric key>,<first day>,<last day>[,<region>,<tier>,<partner type>,<channel manager>]``,
and the filter names it in the list's sidebar, so the list says which
figure it explains. The rows are computed for the request's tenant, inside
its scope, so a link copied to another tenant's host shows that tenant's
rows only.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse

from . import registry
from .declarations import Filters, Metric, Period
from .requests import tenant_of

if TYPE_CHECKING:
    from django.http import HttpRequest

PARAMETER = "drill"
# Ids (UUIDs, numbers) and the partner type's values.
ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
FILTER_FIELDS = ("region", "tier", "partner_type", "channel_manager")


class BadDrill(ValueError):
    """A drill parameter that names no metric, no period or bad filters."""


def encode(metric: Metric, period: Period, filters: Filters) -> str:
    values = [metric.key, period.start.isoformat(), period.end.isoformat()]
    values += [
        "" if getattr(filters, f) is None else str(getattr(filters, f)) for f in FILTER_FIELDS
    ]
    return ",".join(values).rstrip(",")


def decode(value: str) -> tuple[Metric, Period, Filters]:
    parts = value.split(",")
    if len(parts) < 3 or len(parts) > 3 + len(FILTER_FIELDS):
        raise BadDrill("The link should name a metric, a first and a last day.")
    key, first, last, *given = parts
    metric = registry.metrics().get(key)
    if metric is None or metric.rows is None:
        raise BadDrill(f"There is no metric {key!r} whose rows can be listed.")
    try:
        period = Period(date.fromisoformat(first), date.fromisoformat(last))
    except ValueError as exc:
        raise BadDrill(f"The period {first}..{last} is not a pair of dates in order.") from exc
    filters = {name: value or None for name, value in zip(FILTER_FIELDS, given, strict=False)}
    for name, filter_value in filters.items():
        if filter_value is not None and not ID.fullmatch(filter_value):
            raise BadDrill(f"The {name.replace('_', ' ')} filter {filter_value!r} is not an id.")
    return metric, period, Filters(**filters)


def drill_url(metric: Metric, period: Period, filters: Filters) -> str:
    """The admin list of the rows ``metric`` counts for this period and these
    filters (the metric declares ``rows``)."""
    if metric.rows is None or metric.rows_admin is None:
        raise ValueError(f"{metric.key} declares no rows to list.")
    return f"{reverse(metric.rows_admin)}?{PARAMETER}={encode(metric, period, filters)}"


def link(metric: Metric, tenant: Any, period: Period, filters: Filters) -> str | None:
    """Where a metric's figure drills to: its own ``drill``, else the admin
    list of its ``rows``, else nowhere (None)."""
    if metric.drill is not None:
        return metric.drill(tenant, period, filters)
    if metric.rows is not None and metric.rows_admin is not None:
        return drill_url(metric, period, filters)
    return None


def describe(metric: Metric, period: Period, filters: Filters) -> str:
    shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in filters.query().items())
    return f"{metric.name}, {period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}" + (
        f" ({shown})" if shown else ""
    )


class MetricRowsFilter(admin.SimpleListFilter):
    """Narrows an admin list to the rows a metric counts (see the module).
    Shown only while a drill is open, named after the figure it explains."""

    title = "figure"
    parameter_name = PARAMETER

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        value = self.value()
        if not value:
            return []
        try:
            metric, period, filters = decode(value)
        except BadDrill:
            return [(value, "This link's figure could not be read")]
        return [(value, describe(metric, period, filters))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        try:
            metric, period, filters = decode(value)
        except BadDrill as exc:
            messages.error(request, f"This link's figure could not be read: {exc}")
            return queryset.none()
        assert metric.rows is not None
        try:
            rows = metric.rows(tenant_of(request), period, filters)
        except (ValidationError, ValueError):
            messages.error(request, "This link's filters name no region, tier or person here.")
            return queryset.none()
        if rows.model is not queryset.model:
            messages.error(request, f"{metric.name} counts other rows than this list shows.")
            return queryset.none()
        return queryset.filter(pk__in=rows.values("pk"))
