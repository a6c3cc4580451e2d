"""What the rest of the product knows about market development funds.

(roi branch: only the reporting declarations; the lead's declaration of
permissions, navigation, cards, URLs and beat merges into this one.)"""

from prm.tenancy.declarations import PRMApp
from prm.tenancy.roles import STAFF_ROLES

from .facts import SOURCE as FACTS
from .health import AT_RISK_RULES, HEALTH_COMPONENTS
from .metrics import METRICS

APP = PRMApp(
    label="mdf",
    permissions={
        "mdf.view_claim": STAFF_ROLES,
        "mdf.view_allocation": STAFF_ROLES,
    },
    metrics=METRICS,
    facts=(FACTS,),
    health_components=HEALTH_COMPONENTS,
    at_risk_rules=AT_RISK_RULES,
)
