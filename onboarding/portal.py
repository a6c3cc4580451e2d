"""What the partner portal shows of onboarding outside its own pages while
the partner's plan runs: the "Onboarding" menu entry and the home card
(the plan's progress, the next step and what is overdue). Constants for
``onboarding.declare``: ``NAV`` goes into ``PRMApp.nav``, ``CARDS`` into
``PRMApp.cards``."""

from typing import TYPE_CHECKING, Any

from prm.tenancy.declarations import Card, NavEntry

from .models import Plan, PlanStep

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

PERM = "portal.onboarding"
# Where the answer is kept on the membership for the rest of the request.
_ACTIVE = "_onboarding_plan_active"


def plan_active(membership: "Membership") -> bool:
    """Whether the member's partner has an onboarding plan in progress (one
    query, asked once per request: the menu and the home card share it)."""
    if membership.partner_id is None:
        return False
    cached = membership.__dict__.get(_ACTIVE)
    if cached is None:
        cached = Plan.objects.filter(
            partner_id=membership.partner_id, status=Plan.Status.ACTIVE
        ).exists()
        membership.__dict__[_ACTIVE] = cached
    return bool(cached)


def plan_card(membership: "Membership") -> dict[str, Any]:
    """The card's figures from one query of the plan's steps (with the
    plan): percent of required steps done, the next open step (due first)
    and the overdue ones."""
    assert membership.partner_id is not None  # a partner role's card
    today = membership.tenant.local_today()
    steps = list(
        PlanStep.objects.filter(
            plan__partner_id=membership.partner_id, plan__status=Plan.Status.ACTIVE
        )
        .select_related("plan")
        .order_by("due_on", "position")
    )
    if not steps:  # a plan without steps (or it just ended): nothing to show
        return {"plan": None}
    required = [step for step in steps if step.required]
    done = sum(1 for step in required if step.completed_at is not None)
    open_steps = [step for step in steps if step.completed_at is None]
    plan = steps[0].plan
    return {
        "plan": plan,
        "percent": 100 if not required else (100 * done) // len(required),
        "done": done,
        "required": len(required),
        "next_step": open_steps[0] if open_steps else None,
        "overdue": sum(1 for step in open_steps if step.due_on < today),
        "days_left": (plan.target_on - today).days,
    }


NAV = (NavEntry("onboarding:plan", "Onboarding", (PERM,), order=50, visible=plan_active),)

CARDS = (
    Card(
        key="onboarding.plan",
        title="Onboarding",
        url_name="onboarding:plan",
        perms=(PERM,),
        template="onboarding/cards/plan.html",
        context=plan_card,
        visible=plan_active,
        order=5,
    ),
)
