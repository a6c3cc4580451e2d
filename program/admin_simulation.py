"""The draft criteria's simulation page (ops, ``program.evaluate_tiers``):
how many active partners would move up, down or stay under the draft, the
matrix of where they stand now against where the draft puts them, the
partners that would move with their figures (paginated), what would
change in the ladder that looks like a slip, and the incentive impact (what
each published plan version would have paid over the trailing 12 months
with partners in their simulated tiers, against their tiers as held). Reads only; a fixed number of
queries whatever the number of partners (``simulation.simulate``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from prm.tenancy.requests import as_member, tenant_of

from . import criteria, simulation
from .simulation_impact import incentive_impact

if TYPE_CHECKING:
    from .admin_criteria import CriteriaVersionAdmin

PER_PAGE = 50


def simulate_view(model_admin: CriteriaVersionAdmin, request: HttpRequest) -> HttpResponse:
    if not as_member(request).membership.has_perm("program.evaluate_tiers"):
        raise PermissionDenied
    tenant = tenant_of(request)
    draft = criteria.draft_of(tenant)
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Simulate the draft criteria",
        "draft": draft,
        "currency": tenant.base_currency,
        "media": model_admin.media,
    }
    if draft is not None:
        result = simulation.simulate(tenant, draft)
        page = Paginator(result.movers, PER_PAGE).get_page(request.GET.get("page"))
        simulation.fill_cells(list(page.object_list), result.columns, tenant.base_currency)
        context.update(
            {
                "title": f"Simulate draft v{draft.number}",
                "sim": result,
                "matrix": result.matrix,
                "column_totals": result.column_totals,
                "page_obj": page,
                "movers": page.object_list,
                "impact": incentive_impact(result),
            }
        )
    return TemplateResponse(request, "admin/program/criteriaversion/simulate.html", context)
