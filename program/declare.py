"""The partner program's declaration: tier qualification (criteria, the
review policy, evaluations, holds, every partner's standing and progress)
and compliance reviews."""

from prm.tenancy.declarations import NotificationKind, PRMApp
from prm.tenancy.roles import OPS, PARTNER_ROLES, STAFF_ROLES, Role

from .evaluation import GRACE_STARTED, TIER_CHANGED
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

APP = PRMApp(
    label="program",
    permissions=PERMISSIONS,
    urls="program.urls",
    url_prefix="",
    url_matrix="program.url_matrix",
    beat={**TIER_BEAT},
    nav=(*PROGRESS_NAV,),
    cards=(*PROGRESS_CARDS, *MOVING_CARDS),
    partner_panels=(*TIER_PANELS,),
    notification_kinds=TIER_KINDS,
)
