"""Partner portal "Tier progress": the tier held and what it gives, where
the partner stands against the next tier's criteria and its own tier's,
live, with a hold, a grace period or a waiting upgrade, the ladder of
tiers and the partner's tier history."""

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dealreg.models import DealRegistration
from prm.tenancy.access import role_required
from prm.tenancy.requests import MemberRequest

from . import progress as tier_progress
from .models import TierCriterion

PERM = "portal.tiers"
Kind = TierCriterion.Kind


def sections(found: tier_progress.Progress) -> list[dict[str, Any]]:
    """The steps to show: the next tier's, then what keeps the tier held
    (that one first while a grace period runs)."""
    shown = []
    if found.next is not None:
        shown.append({"key": "next", "title": f"Next: {found.next.tier}", "step": found.next})
    if found.keep is not None:
        keep = {"key": "keep", "title": f"What keeps you in {found.tier}", "step": found.keep}
        if found.in_grace:
            shown.insert(0, keep)
        else:
            shown.append(keep)
    return shown


def links(found: tier_progress.Progress) -> list[tuple[str, str]]:
    """Where the partner acts on the criteria shown."""
    kinds = found.links
    deals = reverse("dealreg:list")
    shown = []
    if Kind.CERTIFIED in kinds:
        shown.append((reverse("onboarding:training"), "Your team's certifications and courses"))
    if Kind.WON_REVENUE in kinds:
        shown.append((f"{deals}?status={DealRegistration.Status.WON}", "Your won deals"))
    if Kind.APPROVED in kinds:
        shown.append((deals, "Your deal registrations"))
    if Kind.PLAN in kinds:
        shown.append((reverse("onboarding:plan"), "Your onboarding plan"))
    if Kind.AGREEMENTS in kinds:
        shown.append((reverse("onboarding:agreements"), "The program's agreements"))
    return shown


@require_GET
@role_required(PERM)
def progress(request: MemberRequest) -> HttpResponse:
    partner = request.membership.partner
    assert partner is not None  # portal.tiers is a partner role's
    found = tier_progress.build(partner)
    return render(
        request,
        "program/progress.html",
        {"p": found, "sections": sections(found), "links": links(found)},
    )
