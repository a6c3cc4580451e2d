"""Onboarding's declaration: the public application page (``apply/``),
vetting in the admin, onboarding plans and agreements in the portal
(``onboarding/``) and the admin, and the agreements gate."""

from prm.tenancy.declarations import PRMApp
from prm.tenancy.roles import OPS, PARTNER_ROLES, STAFF_ROLES, Role

from .agreements import GATE
from .demo import DEMO, DEMO_AFTER
from .facts import SOURCE as FACTS
from .health import AT_RISK_RULES, HEALTH_COMPONENTS
from .metrics import METRICS

# Who reviews applications and looks after new partners' plans.
REVIEWERS = frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER})
CM = frozenset({Role.CHANNEL_MANAGER})


def _model(model: str, change: frozenset[str] = OPS) -> dict[str, frozenset[str]]:
    return {
        f"onboarding.{action}_{model}": (STAFF_ROLES if action == "view" else change)
        for action in ("view", "add", "change", "delete")
    }


PERMISSIONS = {
    "portal.onboarding": PARTNER_ROLES,
    **_model("onboardingsettings"),
    **_model("question"),
    **_model("vettingcheck"),
    **_model("assignmentrule"),
    **_model("plantemplate"),
    **_model("agreement"),
    **_model("agreementversion"),
    "onboarding.export_acceptance": OPS | {Role.EXECUTIVE},
    "onboarding.view_application": STAFF_ROLES,
    "onboarding.change_application": REVIEWERS,
    "onboarding.decide_application": REVIEWERS,
    "onboarding.view_plan": STAFF_ROLES,
    "onboarding.change_plan": REVIEWERS,
}

APP = PRMApp(
    label="onboarding",
    permissions=PERMISSIONS,
    # Channel managers tick the steps of their own partners' plans.
    object_scoped={"onboarding.change_plan": CM},
    urls="onboarding.urls",
    url_prefix="",
    url_matrix="onboarding.url_matrix",
    gates=(GATE,),
    metrics=METRICS,
    facts=(FACTS,),
    health_components=HEALTH_COMPONENTS,
    at_risk_rules=AT_RISK_RULES,
    demo=DEMO,
    demo_after=DEMO_AFTER,
)
