"""Market development funds' declaration: partners request, claim and see
their funds in the portal ("Funds"); ops budget and allocate, channel
managers decide requests, finance decides claims, in the admin."""

from prm.tenancy.declarations import NotificationKind, PRMApp, WebhookEvent
from prm.tenancy.roles import OPS, PARTNER_ROLES, STAFF_ROLES, Role

from .deadlines import BEAT as DEADLINE_BEAT
from .demo import DEMO, DEMO_AFTER
from .facts import SOURCE as FACTS
from .health import AT_RISK_RULES, HEALTH_COMPONENTS
from .metrics import METRICS
from .portal import CARDS as PORTAL_CARDS
from .portal import NAV
from .staff_cards import CARDS as STAFF_CARDS

# Who decides fund requests (the partner's channel manager; ops for anyone's).
DECIDERS = frozenset({Role.CHANNEL_MANAGER, Role.OPS_ADMIN})
# Who approves large requests a second time, and decides claims.
MONEY = frozenset({Role.OPS_ADMIN, Role.FINANCE})
CM = frozenset({Role.CHANNEL_MANAGER})


def _config(model: str, change: frozenset[str] = OPS) -> dict[str, frozenset[str]]:
    return {
        f"mdf.{action}_{model}": (STAFF_ROLES if action == "view" else change)
        for action in ("view", "add", "change", "delete")
    }


NOTIFICATION_KINDS = (
    NotificationKind("mdf.request_assigned", "A fund request is mine to decide", DECIDERS),
    NotificationKind("mdf.second_approval", "A large fund request needs a second approval", MONEY),
    NotificationKind("mdf.info_provided", "A partner answered my questions on a request", DECIDERS),
    NotificationKind("mdf.extension_requested", "A partner asks for more time to claim", DECIDERS),
    NotificationKind("mdf.reminder", "An MDF decision of mine is coming due", DECIDERS | MONEY),
    NotificationKind("mdf.escalated", "An MDF decision is overdue", DECIDERS | MONEY),
    NotificationKind("mdf.claim_submitted", "A claim is submitted for review", MONEY | CM),
    NotificationKind(
        "mdf.claim_info_provided", "A partner answered my questions on a claim", MONEY
    ),
    NotificationKind("mdf.request_approved", "A fund request was approved", PARTNER_ROLES),
    NotificationKind("mdf.request_rejected", "A fund request was not approved", PARTNER_ROLES),
    NotificationKind("mdf.info_requested", "The vendor asks about a fund request", PARTNER_ROLES),
    NotificationKind("mdf.claim_info_requested", "The vendor asks about a claim", PARTNER_ROLES),
    NotificationKind("mdf.claim_approved", "A claim was approved", PARTNER_ROLES),
    NotificationKind("mdf.claim_rejected", "A claim was not approved", PARTNER_ROLES),
    NotificationKind(
        "mdf.extension_decided", "A claim window extension was decided", PARTNER_ROLES
    ),
    NotificationKind("mdf.window_closing", "A claim window closes soon", PARTNER_ROLES),
    NotificationKind("mdf.window_closed", "A claim window closed unclaimed", PARTNER_ROLES),
    NotificationKind("mdf.expiry_warning", "Unused funds expire soon", PARTNER_ROLES),
    NotificationKind(
        "mdf.message", "A message about a fund request or claim", PARTNER_ROLES | DECIDERS | MONEY
    ),
)

APP = PRMApp(
    label="mdf",
    permissions={
        "portal.mdf": PARTNER_ROLES,
        **_config("fundtype"),
        **_config("mdfsettings"),
        **_config("budget", MONEY),
        **_config("allocation"),
        "mdf.import_allocation": OPS,
        "mdf.view_fundrequest": STAFF_ROLES,
        "mdf.change_fundrequest": DECIDERS | MONEY,
        "mdf.decide_fundrequest": DECIDERS,
        "mdf.approve_large_fundrequest": MONEY,
        "mdf.view_claim": STAFF_ROLES,
        "mdf.change_claim": MONEY | CM,
        "mdf.decide_claim": MONEY,
        "mdf.verify_claim": CM,
        "mdf.view_roi": STAFF_ROLES,
    },
    # Channel managers decide and check only their partners' requests and claims.
    object_scoped={
        "mdf.decide_fundrequest": CM,
        "mdf.change_fundrequest": CM,
        "mdf.verify_claim": CM,
        "mdf.change_claim": CM,
    },
    nav=NAV,
    cards=(*PORTAL_CARDS, *STAFF_CARDS),
    urls="mdf.urls",
    url_prefix="funds/",
    url_matrix="mdf.url_matrix",
    beat={
        # Warnings, releases and expiry by local date (hourly); decision
        # reminders and escalations every minute (only tenants with one due).
        "mdf-funds": {"task": "mdf.tasks.dispatch_funds_sweeps", "schedule": 3600.0},
        **DEADLINE_BEAT,
    },
    demo=DEMO,
    demo_after=DEMO_AFTER,
    notification_kinds=NOTIFICATION_KINDS,
    metrics=METRICS,
    facts=(FACTS,),
    health_components=HEALTH_COMPONENTS,
    at_risk_rules=AT_RISK_RULES,
    api="mdf.api",
    # One event per decision (as registration.approved / .rejected); a
    # first approval waiting for the second decides nothing yet.
    webhook_events=(
        WebhookEvent("mdf_request.approved", "A fund request was approved (finally)"),
        WebhookEvent("mdf_request.rejected", "A fund request was rejected"),
        WebhookEvent("claim.approved", "An MDF claim was approved"),
        WebhookEvent("claim.rejected", "An MDF claim was rejected"),
        WebhookEvent("claim.paid", "The reimbursement of an MDF claim was paid"),
    ),
)
