"""The partner program's declaration: tier qualification (criteria, the
review policy, evaluations, holds, every partner's standing and progress)
and compliance reviews."""

from prm.tenancy.declarations import NotificationKind, PRMApp, WebhookEvent
from prm.tenancy.roles import OPS, PARTNER_ROLES, STAFF_ROLES, Role

from .compliance_cards import CARDS as COMPLIANCE_CARDS
from .compliance_cards import NAV as COMPLIANCE_NAV
from .compliance_flags import PANELS as COMPLIANCE_PANELS
from .compliance_flags import RESTRICTIONS as COMPLIANCE_RESTRICTIONS
from .compliance_metrics import METRICS as COMPLIANCE_METRICS
from .compliance_sweeps import NOTIFICATION_KINDS as COMPLIANCE_KINDS
from .compliance_tasks import BEAT as COMPLIANCE_BEAT
from .demo import DEMO, DEMO_AFTER
from .evaluation import GRACE_STARTED, TIER_CHANGED
from .metrics import METRICS as TIER_METRICS
from .panels import PANELS as TIER_PANELS
from .portal_progress import CARDS as PROGRESS_CARDS
from .portal_progress import NAV as PROGRESS_NAV
from .staff_cards import CARDS as MOVING_CARDS
from .tasks import BEAT as TIER_BEAT

CM = frozenset({Role.CHANNEL_MANAGER})
REVIEWERS = frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER})


def _model(model: str, change: frozenset[str] = OPS) -> dict[str, frozenset[str]]:
    return {
        f"program.{action}_{model}": (STAFF_ROLES if action == "view" else change)
        for action in ("view", "add", "change", "delete")
    }


PERMISSIONS = {
    # A partner's people see their own tier progress.
    "portal.tiers": PARTNER_ROLES,
    **_model("qualificationsettings"),
    **_model("criteriaversion"),
    **_model("tiertarget"),
    **_model("tiercriterion"),
    **_model("tierhold"),
    "program.view_tierstanding": STAFF_ROLES,
    "program.view_evaluation": STAFF_ROLES,
    # Ops run an evaluation on demand and simulate a draft of the criteria.
    "program.evaluate_tiers": OPS,
    # Compliance reviews: a partner's people see theirs, its admins complete
    # it; ops keep the policy and the custom items; the partner's channel
    # manager (object-scoped) and ops sign a review off or return it.
    "portal.compliance": PARTNER_ROLES,
    "portal.compliance_complete": frozenset({Role.PARTNER_ADMIN}),
    **_model("compliancesettings"),
    **_model("complianceitem"),
    "program.view_compliancereview": STAFF_ROLES,
    "program.change_compliancereview": REVIEWERS,
}

TIER_KINDS = (
    NotificationKind(
        TIER_CHANGED, "A partner moved to another tier", REVIEWERS | {Role.PARTNER_ADMIN}
    ),
    NotificationKind(
        GRACE_STARTED,
        "A partner no longer meets its tier's criteria (grace period)",
        REVIEWERS | {Role.PARTNER_ADMIN},
    ),
)

# What the program sends to webhook endpoints: the review's API representation.
WEBHOOK_EVENTS = (
    WebhookEvent(
        "compliance_review.submitted", "A partner submitted its compliance review for sign-off"
    ),
    WebhookEvent("compliance_review.signed_off", "A partner's compliance review was signed off"),
    WebhookEvent(
        "compliance_review.returned", "A partner's compliance review was returned for changes"
    ),
)

APP = PRMApp(
    label="program",
    permissions=PERMISSIONS,
    urls="program.urls",
    url_prefix="",
    url_matrix="program.url_matrix",
    beat={**TIER_BEAT, **COMPLIANCE_BEAT},
    nav=(*PROGRESS_NAV, *COMPLIANCE_NAV),
    cards=(*PROGRESS_CARDS, *MOVING_CARDS, *COMPLIANCE_CARDS),
    partner_panels=(*TIER_PANELS, *COMPLIANCE_PANELS),
    notification_kinds=(*TIER_KINDS, *COMPLIANCE_KINDS),
    object_scoped={"program.change_compliancereview": CM},
    restrictions=(*COMPLIANCE_RESTRICTIONS,),
    metrics=(*TIER_METRICS, *COMPLIANCE_METRICS),
    demo=DEMO,
    demo_after=DEMO_AFTER,
    api="program.api",
    webhook_events=WEBHOOK_EVENTS,
)
