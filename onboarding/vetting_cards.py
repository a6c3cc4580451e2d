"""The "Partner applications" card of the staff home page (wired in
``onboarding/declare.py``): for those who decide applications, how many
wait for their decision and how many of those are overdue, each count
linking to the admin queue filtered to exactly those rows (one query)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count as Tally
from django.db.models import Q
from django.urls import reverse

from prm.tenancy.declarations import Card, Count
from prm.tenancy.roles import Role
from prm.tenancy.text import plural

from .models import Application
from .vetting import DECIDE_PERM, overdue, waiting_for

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

APPLICATIONS = "tenant_admin:onboarding_application_changelist"


def application_counts(membership: Membership) -> list[Count]:
    if not membership.has_perm(DECIDE_PERM):
        return []
    mine = waiting_for(membership)
    late = overdue()
    if membership.role != Role.OPS_ADMIN:
        late &= Q(reviewer_id=membership.user_id)  # ops hear of every overdue one
    figures = Application.objects.aggregate(
        waiting=Tally("pk", filter=mine), late=Tally("pk", filter=late)
    )
    url = reverse(APPLICATIONS)
    waiting = figures["waiting"]
    counts = [
        Count(
            f"{plural(waiting, 'application')} waiting for you, oldest due first"
            if waiting
            else "No application waits for your decision",
            f"{url}?status=submitted&reviewer=me",
        )
    ]
    if figures["late"]:
        who = "" if membership.role == Role.OPS_ADMIN else "&reviewer=me"
        counts.append(
            Count(
                f"{plural(figures['late'], 'application')} past the decision deadline",
                f"{url}?status=submitted&deadline=overdue{who}",
                urgent=True,
            )
        )
    return counts


CARDS = (
    Card(
        key="onboarding.applications",
        title="Partner applications",
        url_name=APPLICATIONS,
        perms=(DECIDE_PERM,),
        description="Companies applying to join the program: vet, ask, approve or reject.",
        counts=application_counts,
        order=30,
    ),
    Card(
        key="onboarding.settings",
        title="Onboarding settings",
        url_name="tenant_admin:onboarding_onboardingsettings_changelist",
        perms=("onboarding.change_onboardingsettings",),
        description="The application page, decision deadlines, the joining tier, targets.",
        setup=True,
        order=570,
    ),
    Card(
        key="onboarding.vetting",
        title="Vetting checklist and routing",
        url_name="tenant_admin:onboarding_vettingcheck_changelist",
        perms=("onboarding.change_vettingcheck",),
        description="What reviewers check before approving, and who gets new partners.",
        setup=True,
        order=571,
    ),
)
