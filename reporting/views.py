"""The dashboards: executive (/reports/), channel manager (/reports/channel/)
and partner (/reports/partner/). Each view reads the filters from the URL
(so a view can be bookmarked and shared), builds its figures from the
rollups (``reporting.dashboards``) and renders them, or answers
``?export=<table>&format=csv|xlsx`` with one of its tables."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from prm.tenancy.access import role_required
from prm.tenancy.requests import MemberRequest

from . import exports, health_view
from .dashboards import channel, common, executive, partner
from .forms import ReportFilterForm

EMPTY = {
    "top_partners": "No partner won a deal in this period.",
    "falling_partners": "No partner's revenue fell against the period before.",
    "at_risk": "No partner is flagged at risk.",
}


def _filters(request: MemberRequest) -> ReportFilterForm:
    tenant = request.tenant
    form = ReportFilterForm(
        request.GET or None,
        tenant=tenant,
        today=tenant.local_today(),
        membership=request.membership,
    )
    form.is_valid()
    return form


def _context(form: ReportFilterForm, **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "period": form.period,
        "period_label": form.label,
        "query": form.query(),
        **extra,
    }


def partner_link(row: dict[str, Any]) -> str | None:
    """A partner's row links to its staff page (health, figures, contacts)."""
    if not row.get("partner_id"):
        return None
    return reverse("tenant_admin:partners_partner_change", args=[row["partner_id"]])


@role_required("reporting.view_executive")
def executive_dashboard(request: MemberRequest) -> HttpResponse:
    tenant = request.tenant
    form = _filters(request)
    split = request.GET.get("split", "region")
    if split not in common.SPLITS:
        split = "region"
    board = executive.build(tenant, request.membership, form.period, form.filters, split)
    board.charts.append(health_view.distribution(tenant, form.filters))
    tables = {key: board.tables[key] for key in board.tables if key != "kpis"}
    tables["at_risk"] = health_view.at_risk_table(tenant, form.filters)
    answer = exports.requested(request, {**board.tables, **tables})
    if answer is not None:
        return answer
    currency = tenant.base_currency
    return render(
        request,
        "reporting/executive.html",
        _context(
            form,
            board=board,
            tables=[
                common.shown(table, currency, partner_link, EMPTY.get(key, ""))
                for key, table in tables.items()
            ],
            split=split,
            splits=[("region", "Region"), ("tier", "Tier"), ("partner_type", "Partner type")],
            perms_channel=request.membership.has_perm("reporting.view_channel"),
        ),
    )


@role_required("reporting.view_channel")
def channel_dashboard(request: MemberRequest) -> HttpResponse:
    form = _filters(request)
    tenant = request.tenant
    board = channel.build(
        tenant,
        request.membership,
        form.period,
        form.filters,
        today=tenant.local_today(),
        health=health_view.latest_scores(tenant),
    )
    answer = exports.requested(request, {board.partners.key: board.partners})
    if answer is not None:
        return answer
    currency = tenant.base_currency
    return render(
        request,
        "reporting/channel.html",
        _context(
            form,
            board=board,
            tiles=common.tiles(board.figures, currency),
            partners=common.shown(board.partners, currency, partner_link),
            now=timezone.now(),
        ),
    )


@role_required("reporting.view_partner")
def partner_dashboard(request: MemberRequest) -> HttpResponse:
    form = _filters(request)
    tenant = request.tenant
    board = partner.build(tenant, request.membership, form.period, today=tenant.local_today())
    currency = tenant.base_currency
    return render(
        request,
        "reporting/partner.html",
        _context(
            form,
            board=board,
            deals=common.tiles(board.deals, currency),
            earnings=common.tiles(board.earnings, currency),
        ),
    )
