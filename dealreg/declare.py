"""Deal registration's declaration: partners register deals in the portal,
staff decide them in the admin within the SLA."""

from typing import TYPE_CHECKING, Any

from django.db.models import Count as Tally
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from prm.tenancy.declarations import Card, Count, NavEntry, NotificationKind, PRMApp
from prm.tenancy.roles import OPS, PARTNER_ROLES, STAFF_ROLES, Role
from prm.tenancy.text import plural

from .admin_lists import SlaClock, needs_decision, partner_answered
from .events import WEBHOOK_EVENTS
from .facts import SOURCE as FACTS
from .health import AT_RISK_RULES, HEALTH_COMPONENTS
from .metrics import METRICS
from .models import DealRegistration, ExtensionRequest, RoutingRule
from .routing import routing_gaps
from .views import organisation_registrations, status_counts

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

DECIDERS = frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER})
REGISTRATIONS = "tenant_admin:dealreg_dealregistration_changelist"
SUBMITTED = DealRegistration.Status.SUBMITTED


def queue_counts(membership: "Membership") -> list[Count]:
    """What waits for a decision, each count linking to the admin list
    filtered to exactly those rows. For those who decide: their work queue
    (oldest due first), the part past its deadline, what partners answered,
    extension requests and (ops) registrations routed to nobody. For the
    others (finance, executives): the program's pipeline, read-only."""
    if not membership.has_perm("dealreg.decide_dealregistration"):
        return pipeline_counts(membership)
    mine = membership.role == Role.CHANNEL_MANAGER
    registrations = DealRegistration.objects.all()
    if mine:
        registrations = registrations.filter(
            Q(approver_id=membership.user_id) | Q(partner__channel_manager_id=membership.user_id)
        )
    now = timezone.now()
    extension_asked = ExtensionRequest.objects.filter(
        registration=OuterRef("pk"), status=ExtensionRequest.Status.PENDING
    )
    decide = needs_decision(membership)
    figures = registrations.aggregate(
        waiting=Tally("pk", filter=decide),
        answered=Tally("pk", filter=decide & partner_answered()),
        late=Tally(
            "pk",
            filter=SlaClock(now=now, soon_before=now).condition("breached")
            & (Q(approver_id=membership.user_id) if mine else Q()),
        ),
        nobody=Tally("pk", filter=Q(status=SUBMITTED, approver__isnull=True)),
        extensions=Tally(
            "pk",
            filter=Q(Exists(extension_asked))
            & (Q(approver_id=membership.user_id) if mine else Q()),
        ),
    )
    url = reverse(REGISTRATIONS)
    who = "&assigned=me" if mine else ""
    waiting = figures["waiting"]
    counts = [
        Count(
            f"{plural(waiting, 'registration')} to decide, oldest due first"
            if waiting
            else "Nothing waits for your decision",
            f"{url}?queue=decide",
        )
    ]
    if late := figures["late"]:
        counts.append(
            Count(
                f"{plural(late, 'registration')} past {'its' if late == 1 else 'their'} deadline",
                f"{url}?sla=breached{who}",
                urgent=True,
            )
        )
    if answered := figures["answered"]:
        counts.append(
            Count(
                f"{plural(answered, 'registration')} with information answered by the partner",
                f"{url}?queue=answered",
            )
        )
    if not mine and figures["nobody"]:
        counts.append(
            Count(
                f"{plural(figures['nobody'], 'registration')} with no approver",
                f"{url}?status={SUBMITTED}&assigned=nobody",
                urgent=True,
            )
        )
    if extensions := figures["extensions"]:
        counts.append(
            Count(
                f"{plural(extensions, 'registration')} asking for more time",
                f"{url}?extension=pending{who}",
            )
        )
    return counts


def pipeline_counts(membership: "Membership") -> list[Count]:
    """The program's registrations by where they stand (one query)."""
    now = timezone.now()
    figures = DealRegistration.objects.aggregate(
        waiting=Tally("pk", filter=Q(status=SUBMITTED)),
        asked=Tally("pk", filter=Q(status=DealRegistration.Status.MORE_INFO)),
        late=Tally("pk", filter=SlaClock(now=now, soon_before=now).condition("breached")),
        protected=Tally("pk", filter=Q(status=DealRegistration.Status.APPROVED)),
        won=Tally("pk", filter=Q(status=DealRegistration.Status.WON)),
    )
    url = reverse(REGISTRATIONS)
    counts = [
        Count(
            f"{plural(figures['waiting'], 'registration')} waiting for a decision",
            f"{url}?status={SUBMITTED}",
        )
    ]
    if asked := figures["asked"]:
        counts.append(
            Count(
                f"{plural(asked, 'registration')} sent back to the partner for information",
                f"{url}?status={DealRegistration.Status.MORE_INFO}",
            )
        )
    if late := figures["late"]:
        counts.append(
            Count(
                f"{plural(late, 'registration')} past {'its' if late == 1 else 'their'} deadline",
                f"{url}?sla=breached",
                urgent=True,
            )
        )
    counts.append(
        Count(
            f"{plural(figures['protected'], 'approved registration')} protecting a deal",
            f"{url}?status={DealRegistration.Status.APPROVED}",
        )
    )
    counts.append(
        Count(
            f"{plural(figures['won'], 'won deal')}",
            f"{url}?status={DealRegistration.Status.WON}",
        )
    )
    return counts


def routing_counts(membership: "Membership") -> list[Count]:
    """Routing rules that name nobody active: gaps in who decides."""
    gaps = RoutingRule.objects.filter(routing_gaps()).count()
    if not gaps:
        return []
    url = reverse("tenant_admin:dealreg_routingrule_changelist") + "?gap=yes"
    text = f"{plural(gaps, 'active routing rule')} naming nobody who can decide"
    return [Count(text, url, urgent=True)]


def partner_deals(membership: "Membership") -> dict[str, Any]:
    counts = status_counts(organisation_registrations(membership))
    return {"deal_counts": [c for c in counts if c["count"]]}


def _config(model: str) -> dict[str, frozenset[str]]:
    return {
        f"dealreg.{action}_{model}": (STAFF_ROLES if action == "view" else OPS)
        for action in ("view", "add", "change", "delete")
    }


# Who decides registrations (their approver, or ops when nobody is assigned).
DECIDERS = frozenset({Role.CHANNEL_MANAGER, Role.OPS_ADMIN})
NOTIFICATION_KINDS = (
    NotificationKind("dealreg.assigned", "A registration is assigned to me to decide", DECIDERS),
    NotificationKind("dealreg.reminder", "A decision of mine is coming due", DECIDERS),
    NotificationKind("dealreg.escalated", "A decision is overdue", DECIDERS),
    NotificationKind(
        "dealreg.auto_approved", "A registration was approved automatically", DECIDERS
    ),
    NotificationKind("dealreg.info_provided", "A partner answered my questions", DECIDERS),
    NotificationKind("dealreg.withdrawn", "A partner withdrew a registration", DECIDERS),
    NotificationKind("dealreg.conflicts", "A registration may conflict with others", DECIDERS),
    NotificationKind(
        "dealreg.extension_requested", "A partner asks for a longer protection", DECIDERS
    ),
    NotificationKind("dealreg.approved", "A registration was approved", PARTNER_ROLES),
    NotificationKind("dealreg.rejected", "A registration was rejected", PARTNER_ROLES),
    NotificationKind(
        "dealreg.info_requested", "The vendor asks for more information", PARTNER_ROLES
    ),
    NotificationKind("dealreg.extension_approved", "A protection was extended", PARTNER_ROLES),
    NotificationKind("dealreg.extension_rejected", "An extension was refused", PARTNER_ROLES),
    NotificationKind("dealreg.expiry_warning", "A protection ends soon", PARTNER_ROLES),
    NotificationKind("dealreg.expired", "A protection has ended", PARTNER_ROLES),
    NotificationKind("dealreg.message", "A message about a registration", PARTNER_ROLES | DECIDERS),
    NotificationKind(
        "dealreg.outcome", "A deal's outcome was set or changed", PARTNER_ROLES | DECIDERS
    ),
)

APP = PRMApp(
    label="dealreg",
    permissions={
        "portal.dealreg": PARTNER_ROLES,
        "dealreg.view_dealregistration": STAFF_ROLES,
        "dealreg.change_dealregistration": DECIDERS,
        "dealreg.decide_dealregistration": DECIDERS,
        "dealreg.reassign_dealregistration": OPS,
        "dealreg.export_dealregistration": DECIDERS | {Role.EXECUTIVE},
        "dealreg.view_extensionrequest": STAFF_ROLES,
        "dealreg.decide_extensionrequest": DECIDERS,
        "dealreg.view_directopportunity": DECIDERS | {Role.EXECUTIVE},
        "dealreg.add_directopportunity": OPS,
        "dealreg.change_directopportunity": OPS,
        "dealreg.delete_directopportunity": OPS,
        "dealreg.import_directopportunity": OPS,
        **_config("productline"),
        **_config("routingrule"),
        **_config("dealregsettings"),
        **_config("closureday"),
        **_config("tierprotection"),
        **_config("customfield"),
    },
    # Channel managers decide only the registrations of their partners.
    object_scoped={
        "dealreg.change_dealregistration": {Role.CHANNEL_MANAGER},
        "dealreg.decide_dealregistration": {Role.CHANNEL_MANAGER},
        "dealreg.decide_extensionrequest": {Role.CHANNEL_MANAGER},
    },
    nav=(NavEntry("dealreg:list", "Deals", ("portal.dealreg",), order=100),),
    cards=(
        Card(
            key="dealreg.partner_deals",
            title="Deal registrations",
            perms=("portal.dealreg",),
            template="dealreg/cards/partner_deals.html",
            context=partner_deals,
            order=30,
        ),
        Card(
            key="dealreg.queue",
            title="Deal registrations",
            url_name=REGISTRATIONS,
            perms=("dealreg.view_dealregistration",),
            description="Deals partners registered, decided within their SLA.",
            counts=queue_counts,
            order=20,
        ),
        Card(
            key="dealreg.routing_gaps",
            title="Routing",
            url_name="tenant_admin:dealreg_routingrule_changelist",
            perms=("dealreg.change_routingrule",),
            description="Every registration needs someone to decide it.",
            counts=routing_counts,
            empty="Every active routing rule names someone who can decide.",
            order=25,
        ),
        Card(
            key="dealreg.routing",
            title="Routing rules",
            url_name="tenant_admin:dealreg_routingrule_changelist",
            perms=("dealreg.change_routingrule",),
            description="Who decides which registrations.",
            setup=True,
            order=530,
        ),
        Card(
            key="dealreg.settings",
            title="Deal registration settings",
            url_name="tenant_admin:dealreg_dealregsettings_changelist",
            perms=("dealreg.change_dealregsettings",),
            description="SLA, reminders, protection, extensions and the conflict threshold.",
            setup=True,
            order=540,
        ),
    ),
    urls="dealreg.urls",
    url_prefix="deals/",
    beat={
        # SLA reminders/escalations every minute (only tenants with something
        # due get a sweep), protection expiry by local date hourly.
        "dealreg-sla": {"task": "dealreg.tasks.dispatch_sla_sweeps", "schedule": 60.0},
        "dealreg-protection": {
            "task": "dealreg.tasks.dispatch_protection_sweeps",
            "schedule": 3600.0,
        },
    },
    demo="dealreg.demo.seed",
    demo_after=("partners",),
    url_matrix="dealreg.url_matrix",
    api="dealreg.api",
    webhook_events=WEBHOOK_EVENTS,
    metrics=METRICS,
    facts=(FACTS,),
    notification_kinds=NOTIFICATION_KINDS,
    health_components=HEALTH_COMPONENTS,
    at_risk_rules=AT_RISK_RULES,
)
