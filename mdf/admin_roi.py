"""MDF ROI in the tenant admin: a read-only page of ``roi.roi_rows`` per
activity, partner, fund type or budget period (spent, vendor and partner
share, sourced pipeline, won revenue, ROI, cost per lead), each row
drilling down to the deal registrations it counts, which link to their
pages in the deal registration admin. Staff with ``mdf.view_roi``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.http import urlencode

from prm.tenancy.declarations import Period
from prm.tenancy.requests import as_member, tenant_of

from . import roi

GROUPS: dict[roi.Group, str] = {
    "activity": "Activity",
    "partner": "Partner",
    "fund_type": "Fund type",
    "period": "Budget period",
}
MAX_DRILL = 200


def row_key(row: roi.RoiRow) -> str:
    """A row's key as it travels in the address (a period is two days)."""
    if isinstance(row.key, tuple):
        return "_".join(day.isoformat() for day in row.key)
    return str(row.key)


def _period(request: HttpRequest) -> Period | None:
    """``?from=&to=``: activities whose claim was approved in those days."""
    first, last = request.GET.get("from", ""), request.GET.get("to", "")
    if not first and not last:
        return None
    try:
        return Period(date.fromisoformat(first), date.fromisoformat(last))
    except ValueError:
        messages.warning(request, "The period was not two dates in order: showing all time.")
        return None


def roi_view(model_admin: Any, request: HttpRequest) -> HttpResponse:
    membership = as_member(request).membership
    if not membership.has_perm("mdf.view_roi"):
        raise PermissionDenied
    tenant = tenant_of(request)
    asked = request.GET.get("group")
    group: roi.Group = next((g for g in GROUPS if g == asked), "activity")
    period = _period(request)
    rows = roi.roi_rows(tenant, group=group, period=period)
    chosen = request.GET.get("row")
    drilled = next((r for r in rows if row_key(r) == chosen), None) if chosen else None
    registrations = []
    if drilled is not None:
        registrations = list(
            roi.sourced_registrations(tenant, requests=drilled.activities)
            .select_related("partner")
            .order_by("-created_at")[:MAX_DRILL]
        )
    base = {k: request.GET[k] for k in ("from", "to") if period is not None and request.GET.get(k)}
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "MDF ROI",
        "groups": GROUPS,
        "group": group,
        "group_label": GROUPS[group],
        "period": period,
        "period_from": period.start.isoformat() if period else "",
        "period_to": period.end.isoformat() if period else "",
        "rows": [{"row": r, "key": row_key(r)} for r in rows],
        "total": roi.totals(rows),
        "drilled": drilled,
        "registrations": registrations,
        "max_drill": MAX_DRILL,
        "currency": tenant.base_currency,
        "period_query": ("&" + urlencode(base)) if base else "",
        "media": model_admin.media,
    }
    return TemplateResponse(request, "admin/mdf/roi.html", context)
