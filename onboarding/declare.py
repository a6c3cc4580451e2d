"""Onboarding's declaration: the public application page (``apply/``),
vetting in the admin, onboarding plans and agreements in the portal
(``onboarding/``) and the admin, and the agreements gate."""

from prm.tenancy.declarations import NotificationKind, PRMApp, WebhookEvent
from prm.tenancy.roles import OPS, PARTNER_ROLES, STAFF_ROLES, Role

from .agreement_cards import CARDS as AGREEMENT_CARDS
from .agreement_sweeps import BEAT as AGREEMENT_BEAT
from .agreements import GATE
from .application_deadlines import BEAT as APPLICATION_BEAT
from .demo import DEMO, DEMO_AFTER
from .facts import SOURCE as FACTS
from .health import AT_RISK_RULES, HEALTH_COMPONENTS
from .metrics import METRICS
from .panels import PANELS as PLAN_PANELS
from .plan_sweeps import BEAT as PLAN_BEAT
from .plan_sweeps import NOTIFICATION_KINDS as PLAN_KINDS
from .portal import CARDS as PLAN_CARDS
from .portal import NAV as PLAN_NAV
from .portal_training import CARDS as TRAINING_PORTAL_CARDS
from .portal_training import NAV as TRAINING_NAV
from .staff_cards_plans import CARDS as PLAN_STAFF_CARDS
from .training_cards import CARDS as TRAINING_STAFF_CARDS
from .training_health import HEALTH_COMPONENTS as TRAINING_HEALTH
from .training_metrics import METRICS as TRAINING_METRICS
from .training_sweeps import BEAT as TRAINING_BEAT
from .training_sweeps import NOTIFICATION_KINDS as TRAINING_KINDS
from .vetting_cards import CARDS as VETTING_CARDS

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
    "onboarding.view_acceptance": STAFF_ROLES,
    "onboarding.view_application": STAFF_ROLES,
    "onboarding.change_application": REVIEWERS,
    "onboarding.decide_application": REVIEWERS,
    "onboarding.view_plan": STAFF_ROLES,
    "onboarding.change_plan": REVIEWERS,
    "onboarding.start_plan": OPS,
    # Training and certifications: ops keep the catalogue; ops and channel
    # managers record and confirm people's training; partners see their own.
    "portal.training": PARTNER_ROLES,
    **_model("course"),
    **_model("certification"),
    "onboarding.view_trainingrecord": STAFF_ROLES,
    "onboarding.add_trainingrecord": REVIEWERS,
    "onboarding.change_trainingrecord": REVIEWERS,
    "onboarding.delete_trainingrecord": OPS,
    "onboarding.import_trainingrecord": OPS,
}

VETTING_NOTIFICATIONS = (
    NotificationKind(
        "onboarding.application_assigned", "A partner application is mine to review", REVIEWERS
    ),
    NotificationKind(
        "onboarding.application_answered", "An applicant answered my question", REVIEWERS
    ),
    NotificationKind(
        "onboarding.application_reminder", "A partner application of mine is coming due", REVIEWERS
    ),
    NotificationKind(
        "onboarding.application_escalated", "A partner application is overdue", REVIEWERS
    ),
    NotificationKind("onboarding.partner_assigned", "A newly approved partner is mine", CM),
)

AGREEMENT_KINDS = (
    NotificationKind(
        "onboarding.agreement_accepted", "A partner of mine accepted an agreement", REVIEWERS
    ),
    NotificationKind(
        "onboarding.agreement_new_version",
        "A new version of an agreement is waiting for our acceptance",
        {Role.PARTNER_ADMIN},
    ),
    NotificationKind(
        "onboarding.agreement_expiring",
        "An agreement expires soon",
        OPS | {Role.PARTNER_ADMIN},
    ),
)

# What onboarding sends to webhook endpoints: the object's API representation.
WEBHOOK_EVENTS = (
    WebhookEvent(
        "application.received",
        "A partner application was received: its applicant confirmed their email and it "
        "waits for review",
    ),
    WebhookEvent("application.approved", "A partner application was approved"),
    WebhookEvent("application.rejected", "A partner application was rejected"),
    WebhookEvent(
        "certification.earned",
        "A partner's person earned a certification (recorded, imported or confirmed by staff)",
    ),
)

APP = PRMApp(
    label="onboarding",
    permissions=PERMISSIONS,
    # Channel managers tick the steps of their own partners' plans.
    object_scoped={"onboarding.change_plan": CM},
    urls="onboarding.urls",
    url_prefix="",
    url_matrix="onboarding.url_matrix",
    gates=(GATE,),
    nav=(*PLAN_NAV, *TRAINING_NAV),
    cards=(
        *VETTING_CARDS,
        *AGREEMENT_CARDS,
        *PLAN_CARDS,
        *PLAN_STAFF_CARDS,
        *TRAINING_PORTAL_CARDS,
        *TRAINING_STAFF_CARDS,
    ),
    partner_panels=(*PLAN_PANELS,),
    beat={**APPLICATION_BEAT, **AGREEMENT_BEAT, **PLAN_BEAT, **TRAINING_BEAT},
    notification_kinds=(*VETTING_NOTIFICATIONS, *AGREEMENT_KINDS, *PLAN_KINDS, *TRAINING_KINDS),
    metrics=(*METRICS, *TRAINING_METRICS),
    facts=(FACTS,),
    health_components=(*HEALTH_COMPONENTS, *TRAINING_HEALTH),
    at_risk_rules=AT_RISK_RULES,
    demo=DEMO,
    demo_after=DEMO_AFTER,
    api="onboarding.api",
    webhook_events=WEBHOOK_EVENTS,
)
