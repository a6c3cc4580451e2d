"""The "Onboarding" panel on a partner's staff page (``PRMApp.partner_panels``):
the plan's progress, its next step and what is overdue, with a link to the
plan; for a partner without a plan, ops get a link to start one from the
template that applies."""

from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from partners.models import Partner
from prm.tenancy.declarations import PartnerPanel
from prm.tenancy.requests import as_member

from . import plans
from .models import OnboardingSettings, Plan


def plan_panel(request: HttpRequest, partner: Model) -> dict[str, Any]:
    assert isinstance(partner, Partner)  # the partner's page
    membership = as_member(request).membership
    plan = Plan.objects.select_related("tenant").filter(partner=partner).first()
    if plan is None:
        may_start = membership.has_perm(plans.START_PERM)
        return {
            "plan": None,
            "may_start": may_start,
            "template": plans.template_for(partner) if may_start else None,
            "start_url": f"{reverse('tenant_admin:onboarding_plan_start')}?partner={partner.pk}",
        }
    progress = plans.progress(plan)
    settings_row = OnboardingSettings.for_tenant(plan.tenant)
    required = [step for step in progress.steps if step.required]
    return {
        "plan": plan,
        "progress": progress,
        "done": sum(1 for step in required if step.completed_at is not None),
        "required": len(required),
        "stalled": plans.is_stalled(plan, settings_row, timezone.now()),
        "late_days": -progress.days_left,
        "plan_url": reverse("tenant_admin:onboarding_plan_change", args=[plan.pk]),
    }


PANELS = (
    PartnerPanel(
        key="onboarding.plan",
        title="Onboarding",
        template="admin/onboarding/plan_panel.html",
        context=plan_panel,
        perms=("onboarding.view_plan",),
        css=("admin/dealreg.css",),
        order=20,
    ),
)
