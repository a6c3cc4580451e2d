"""Partner portal "Tier progress": where the partner stands against its
tier's criteria and the next tier's, live."""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from prm.tenancy.access import role_required
from prm.tenancy.requests import MemberRequest

from . import progress as tier_progress

PERM = "portal.tiers"


@require_GET
@role_required(PERM)
def progress(request: MemberRequest) -> HttpResponse:
    partner = request.membership.partner
    assert partner is not None  # portal.tiers is a partner role's
    found = tier_progress.build(partner)
    return render(request, "program/progress.html", {"progress": found})
