"""What shows of compliance reviews outside their own pages: the partner's
"Compliance" menu entry and home card (the review due, for its admins),
and the staff card (reviews waiting for sign-off, overdue ones). Constants
for ``program.declare``: ``NAV`` goes into ``PRMApp.nav``, ``CARDS`` into
``PRMApp.cards``."""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse

from prm import format as fmt
from prm.tenancy.declarations import Card, NavEntry
from prm.tenancy.declarations import Count as CardCount
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role

from . import compliance
from .models import ComplianceReview, ComplianceSettings

Status = ComplianceReview.Status
REVIEWS = "tenant_admin:program_compliancereview_changelist"


def runs_reviews(membership: Membership) -> bool:
    """Whether the tenant runs compliance reviews: asked once per request
    (the menu entry and the home card share the answer, kept on the
    request's membership)."""
    known = getattr(membership, "_runs_compliance_reviews", None)
    if known is None:
        known = ComplianceSettings.objects.filter(
            tenant_id=membership.tenant_id, enabled=True
        ).exists()
        membership._runs_compliance_reviews = known  # type: ignore[attr-defined]
    return bool(known)


def partner_counts(membership: Membership) -> list[CardCount]:
    """The partner's review waiting for its admins (one query)."""
    assert membership.partner_id is not None  # a partner role's card
    review = (
        ComplianceReview.objects.filter(
            partner_id=membership.partner_id, status__in=ComplianceReview.UNFINISHED
        )
        .only("pk", "due_on", "status")
        .first()
    )
    if review is None:
        return []
    url = compliance.portal_url()
    today = membership.tenant.local_today()
    if review.status == Status.SUBMITTED:
        text = "Compliance review submitted, waiting for sign-off"
        return [CardCount(text + (" (past its due date)" if review.due_on < today else ""), url)]
    if review.due_on < today:
        return [
            CardCount(
                f"Compliance review overdue since {fmt.day(review.due_on)}: you are out of "
                "compliance",
                url,
                urgent=True,
            )
        ]
    days = (review.due_on - today).days
    verb = "returned: change it and submit it" if review.status == Status.RETURNED else "due"
    return [
        CardCount(
            f"Compliance review {verb} by {fmt.day(review.due_on)} (in {fmt.plural(days, 'day')})",
            url,
            urgent=days <= 14 or review.status == Status.RETURNED,
        )
    ]


def staff_counts(membership: Membership) -> list[CardCount]:
    """Reviews waiting for sign-off and overdue ones: a channel manager's own
    partners', everyone's for ops (one query)."""
    today = membership.tenant.local_today()
    rows = ComplianceReview.objects.all()
    mine = ""
    if membership.role == Role.CHANNEL_MANAGER:
        rows = rows.filter(partner__channel_manager_id=membership.user_id)
        mine = "&manager=me"
    found = rows.aggregate(
        waiting=Count("pk", filter=Q(status=Status.SUBMITTED)),
        overdue=Count("pk", filter=compliance.overdue_q(today)),
    )
    url = reverse(REVIEWS)
    counts = []
    if found["overdue"]:
        counts.append(
            CardCount(
                f"{fmt.plural(found['overdue'], 'review')} overdue (partners out of compliance)",
                f"{url}?state=overdue{mine}",
                urgent=True,
            )
        )
    if found["waiting"]:
        counts.append(
            CardCount(
                f"{fmt.plural(found['waiting'], 'review')} waiting for sign-off",
                f"{url}?status__exact={Status.SUBMITTED}{mine}",
            )
        )
    return counts


NAV = (
    NavEntry(
        "program:compliance",
        "Compliance",
        (compliance.PORTAL_PERM,),
        order=170,
        visible=runs_reviews,
    ),
)

CARDS = (
    Card(
        key="program.compliance",
        title="Compliance review",
        url_name="program:compliance",
        perms=(compliance.COMPLETE_PERM,),
        description="Your organisation's periodic compliance checklist.",
        counts=partner_counts,
        empty="Your compliance review is signed off: nothing to do.",
        order=60,
        visible=runs_reviews,
    ),
    Card(
        key="program.compliance_reviews",
        title="Compliance reviews",
        url_name=REVIEWS,
        perms=(compliance.DECIDE_PERM,),
        description="Partners' periodic compliance reviews: sign off or return them.",
        counts=staff_counts,
        empty="No compliance review waits for sign-off or is overdue.",
        order=45,
        visible=runs_reviews,
    ),
)
