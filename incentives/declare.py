"""Incentives' declaration: ops configure plans, finance owns money (rates,
payouts, disputes, adjustments), executives read; partner admins see their
organisation's statements and dispute lines in the portal."""

from typing import TYPE_CHECKING

from django.db.models import Q
from django.urls import reverse

from prm.tenancy.declarations import Card, Count, NavEntry, NotificationKind, PRMApp, WebhookEvent
from prm.tenancy.roles import FINANCE, FINANCE_READERS, OPS, Role
from prm.tenancy.text import plural

from .disputes import OPEN as OPEN_DISPUTES
from .facts import SOURCE as FACTS
from .health import HEALTH_COMPONENTS
from .metrics import METRICS
from .models import DealAccrualState, Dispute, PayoutRun
from .payouts.writing import maker_may_not_approve
from .portal_access import PERM, READ_PERM, may_read_statements

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

MONEY_KEEPERS = frozenset({Role.OPS_ADMIN, Role.FINANCE})
# Payout runs that wait for someone, and what each waits for.
RUN_WAITS: dict[str, tuple[str, bool]] = {
    PayoutRun.Status.COMPUTING: ("computing its lines", False),
    PayoutRun.Status.REVIEW: ("awaiting approval", False),
    PayoutRun.Status.APPROVED: ("approved, to be marked paid", False),
    PayoutRun.Status.FAILED: ("failed: see its error", True),
}


def payout_counts(membership: "Membership") -> list[Count]:
    """Each payout run waiting for finance, by its reference (there are few)."""
    runs = PayoutRun.objects.filter(status__in=RUN_WAITS).order_by("created_at")[:5]
    counts = []
    for run in runs.only("pk", "reference", "status", "created_by", "tenant"):
        waits, urgent = RUN_WAITS[run.status]
        if (
            run.status == PayoutRun.Status.REVIEW
            and run.created_by_id == membership.user_id
            and maker_may_not_approve(run)
        ):
            # Four eyes: the person who started it cannot approve it.
            waits = "awaiting a colleague's approval (you started it)"
        url = reverse("tenant_admin:incentives_payoutrun_change", args=[run.pk])
        counts.append(Count(f"Payout run {run.reference} {waits}", url, urgent=urgent))
    return counts


def dispute_counts(membership: "Membership") -> list[Count]:
    open_disputes = Dispute.objects.filter(status__in=OPEN_DISPUTES).count()
    if not open_disputes:
        return []
    url = reverse("tenant_admin:incentives_dispute_changelist") + "?status=open_any"
    return [Count(f"{plural(open_disputes, 'open dispute')}", url)]


def stuck_counts(membership: "Membership") -> list[Count]:
    stuck = DealAccrualState.objects.filter(~Q(problem="")).count()
    if not stuck:
        return []
    url = reverse("tenant_admin:incentives_dealaccrualstate_changelist")
    return [Count(f"{plural(stuck, 'won deal')} not accrued yet", url, urgent=True)]


def partner_dispute_counts(membership: "Membership") -> list[Count]:
    assert membership.partner_id is not None  # a partner role's card
    if not membership.has_perm(PERM):
        return []  # disputes are the partner admins' (partner users read only)
    mine = Dispute.objects.filter(partner_id=membership.partner_id, status__in=OPEN_DISPUTES)
    open_disputes = mine.count()
    if not open_disputes:
        return []
    return [Count(f"{plural(open_disputes, 'open dispute')}", reverse("incentives:disputes"))]


# Disputes are answered to the partner's admins and whoever opened them;
# payouts are announced to partner admins.
NOTIFICATION_KINDS = (
    NotificationKind("incentives.dispute_opened", "A partner disputes a statement line", FINANCE),
    NotificationKind("incentives.dispute_message", "A partner writes about a dispute", FINANCE),
    NotificationKind("incentives.no_rate", "A rebate waits for an exchange rate", FINANCE),
    NotificationKind(
        "incentives.dispute_answered", "Finance answers a dispute", {Role.PARTNER_ADMIN}
    ),
    NotificationKind("incentives.dispute_resolved", "A dispute was resolved", {Role.PARTNER_ADMIN}),
    NotificationKind("incentives.dispute_rejected", "A dispute was rejected", {Role.PARTNER_ADMIN}),
    NotificationKind("incentives.payout_sent", "A payout was sent", {Role.PARTNER_ADMIN}),
)


def _config(model: str, readers: frozenset[str], writers: frozenset[str]) -> dict:
    return {
        f"incentives.{action}_{model}": (readers if action == "view" else writers)
        for action in ("view", "add", "change", "delete")
    }


APP = PRMApp(
    label="incentives",
    permissions={
        PERM: {Role.PARTNER_ADMIN},
        # Partner users too, where the program allows it (portal_access).
        READ_PERM: {Role.PARTNER_ADMIN, Role.PARTNER_USER},
        **_config("plan", FINANCE_READERS, OPS),
        **_config("planversion", FINANCE_READERS, OPS),
        **_config("bracket", FINANCE_READERS, OPS),
        "incentives.publish_planversion": OPS,
        "incentives.preview_planversion": MONEY_KEEPERS,
        **_config("exchangerate", FINANCE_READERS, MONEY_KEEPERS),
        "incentives.view_incentivesettings": MONEY_KEEPERS,
        "incentives.change_incentivesettings": MONEY_KEEPERS,
        "incentives.view_ledgerentry": FINANCE_READERS,
        "incentives.add_ledgerentry": FINANCE,
        "incentives.export_ledgerentry": FINANCE_READERS,
        "incentives.view_dealaccrualstate": MONEY_KEEPERS,
        "incentives.view_statement": FINANCE_READERS,
        "incentives.export_statement": FINANCE_READERS,
        "incentives.view_payoutrun": {Role.FINANCE, Role.EXECUTIVE},
        "incentives.add_payoutrun": FINANCE,
        "incentives.change_payoutrun": FINANCE,
        "incentives.approve_payoutrun": FINANCE,
        "incentives.export_payoutrun": FINANCE,
        "incentives.view_dispute": FINANCE_READERS,
        "incentives.change_dispute": FINANCE,
    },
    nav=(
        NavEntry(
            "incentives:statements",
            "Statements",
            (PERM, READ_PERM),
            order=200,
            visible=may_read_statements,
        ),
    ),
    cards=(
        Card(
            key="incentives.statements",
            title="Commission statements",
            url_name="incentives:statements",
            perms=(PERM, READ_PERM),
            description="What your organisation earned and was paid, period by period.",
            counts=partner_dispute_counts,
            order=40,
            visible=may_read_statements,
        ),
        Card(
            key="incentives.payouts",
            title="Payout runs",
            url_name="tenant_admin:incentives_payoutrun_changelist",
            perms=("incentives.view_payoutrun",),
            description="Compute, approve and pay what partners have earned.",
            counts=payout_counts,
            empty="No payout run is waiting for anyone.",
            order=30,
        ),
        Card(
            key="incentives.disputes",
            title="Disputes",
            url_name="tenant_admin:incentives_dispute_changelist",
            perms=("incentives.view_dispute",),
            description="Statement lines partners question, answered or adjusted.",
            counts=dispute_counts,
            empty="No open disputes.",
            order=40,
        ),
        Card(
            key="incentives.ledger",
            title="Incentive ledger",
            url_name="tenant_admin:incentives_ledgerentry_changelist",
            perms=("incentives.view_ledgerentry",),
            description="Every accrual, adjustment, clawback and payout, with export.",
            order=50,
        ),
        Card(
            key="incentives.stuck",
            title="Accruals waiting",
            url_name="tenant_admin:incentives_dealaccrualstate_changelist",
            perms=("incentives.view_dealaccrualstate",),
            description="Won deals the ledger could not bring in line yet.",
            counts=stuck_counts,
            empty="None: every won deal is accrued.",
            order=60,
        ),
        Card(
            key="incentives.plans",
            title="Incentive plans",
            url_name="tenant_admin:incentives_plan_changelist",
            perms=("incentives.change_plan",),
            description="Commissions, SPIFFs and rebates, with a what-if preview.",
            setup=True,
            order=550,
        ),
        Card(
            key="incentives.rates",
            title="Exchange rates",
            url_name="tenant_admin:incentives_exchangerate_changelist",
            perms=("incentives.change_exchangerate",),
            description="Rates to the base currency by date, with CSV import.",
            setup=True,
            order=560,
        ),
    ),
    urls="incentives.urls",
    url_prefix="incentives/",
    beat={
        # Re-sync won deals whose accrual task was lost or waited on a rate;
        # finish payout runs whose worker died; issue statements and accrue
        # rebates once a period has ended.
        "incentives-deals": {"task": "incentives.tasks.dispatch_sweeps", "schedule": 300.0},
        "incentives-payout-runs": {
            "task": "incentives.payout_tasks.resume_stalled_runs",
            "schedule": 300.0,
        },
        "incentives-period-close": {
            "task": "incentives.statement_tasks.dispatch_period_close",
            "schedule": 3600.0,
        },
    },
    demo="incentives.demo.seed",
    demo_after=("dealreg",),
    url_matrix="incentives.url_matrix",
    metrics=METRICS,
    facts=(FACTS,),
    notification_kinds=NOTIFICATION_KINDS,
    health_components=HEALTH_COMPONENTS,
    api="incentives.api",
    webhook_events=(
        WebhookEvent(
            "payout_run.approved", "A payout run was approved and its payouts were written"
        ),
        WebhookEvent("payout_run.paid", "A payout run was marked paid by accounts payable"),
        WebhookEvent("statement.issued", "A partner's statement of an ended period was issued"),
    ),
)
