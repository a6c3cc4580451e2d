"""The onboarding plan cards of the staff home page (``PRMApp.cards``):
for channel managers (their partners) and ops (everyone's), the plans in
progress, the overdue steps, the plans past their target and the stalled
ones, each count linking to the admin's plan list filtered to exactly those
plans; and, for ops, the plan templates among the setup links. Two queries:
the tenant's stalled threshold and one aggregate."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.db.models import Count as Tally
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from prm.tenancy.declarations import Card, Count
from prm.tenancy.roles import Role
from prm.tenancy.text import plural

from .models import OnboardingSettings, Plan, PlanStep

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

PLANS = "tenant_admin:onboarding_plan_changelist"
TEMPLATES = "tenant_admin:onboarding_plantemplate_changelist"
DEFAULT_STALLED_DAYS = OnboardingSettings._meta.get_field("stalled_after_days").default


def plan_counts(membership: Membership) -> list[Count]:
    now = timezone.now()
    today = membership.tenant.local_today(now)
    days = (
        OnboardingSettings.objects.values_list("stalled_after_days", flat=True).first()
        or DEFAULT_STALLED_DAYS
    )
    stalled_before = now - timedelta(days=days)
    mine = membership.role == Role.CHANNEL_MANAGER
    active = Plan.objects.filter(status=Plan.Status.ACTIVE)
    if mine:
        active = active.filter(partner__channel_manager_id=membership.user_id)
    late = PlanStep.objects.filter(plan=OuterRef("pk"), completed_at__isnull=True, due_on__lt=today)
    figures = active.annotate(has_late_step=Exists(late)).aggregate(
        running=Tally("pk"),
        late_steps=Tally("pk", filter=Q(has_late_step=True)),
        past_target=Tally("pk", filter=Q(target_on__lt=today)),
        stalled=Tally("pk", filter=Q(last_progress_at__lt=stalled_before)),
    )
    url = reverse(PLANS)
    who = "&manager=me" if mine else ""
    whose = "of your partners " if mine else ""
    counts = []
    if figures["late_steps"]:
        counts.append(
            Count(
                f"{plural(figures['late_steps'], 'plan')} {whose}with an overdue step",
                f"{url}?overdue=steps{who}",
                urgent=True,
            )
        )
    if figures["past_target"]:
        counts.append(
            Count(
                f"{plural(figures['past_target'], 'plan')} {whose}past the target date",
                f"{url}?overdue=target{who}",
                urgent=True,
            )
        )
    if figures["stalled"]:
        counts.append(
            Count(
                f"{plural(figures['stalled'], 'plan')} stalled: no step done in {days} days",
                f"{url}?stalled=yes{who}",
                urgent=True,
            )
        )
    if figures["running"]:
        counts.append(
            Count(
                f"{plural(figures['running'], 'plan')} {whose}in progress",
                f"{url}?status__exact=active{who}",
            )
        )
    return counts


CARDS = (
    Card(
        key="onboarding.plans",
        title="Onboarding plans",
        url_name=PLANS,
        perms=("onboarding.change_plan",),
        description="New partners' steps to their first deal, and who is behind.",
        counts=plan_counts,
        empty="No onboarding plan is in progress.",
        order=30,
    ),
    Card(
        key="onboarding.plan_templates",
        title="Onboarding plan templates",
        url_name=TEMPLATES,
        perms=("onboarding.change_plantemplate",),
        description="The steps new partners go through, per type and tier, and the target.",
        setup=True,
        order=570,
    ),
)
