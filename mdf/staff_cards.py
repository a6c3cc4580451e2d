"""The MDF cards of the staff home page (``PRMApp.cards``; the lead wires
``CARDS`` into ``mdf/declare.py``): what waits for a decision, each count
linking to the admin list filtered to exactly those rows, and for ops and
finance where the open budgets stand. Each card's counts are one query.

- Fund requests: for those who decide, theirs to decide (a channel manager:
  routed to them or of their partners; ops: all) and the overdue part; for
  ops and finance, large requests waiting for a second approval.
- Claims: for finance and ops, claims to review, overdue ones and those
  whose invoice is claimed elsewhere too; for a channel manager, their
  partners' claims whose proof waits for their check.
- Budgets: allocated and claimed of the open budgets, what is left to
  allocate, and allocations whose unused funds expire within 30 days.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count as Tally
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils import timezone

from prm import format as fmt
from prm.tenancy.declarations import Card, Count
from prm.tenancy.roles import Role
from prm.tenancy.text import plural

from .models import Allocation, Budget, Claim, FundRequest

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

REQUESTS = "tenant_admin:mdf_fundrequest_changelist"
CLAIMS = "tenant_admin:mdf_claim_changelist"
BUDGETS = "tenant_admin:mdf_budget_changelist"
ALLOCATIONS = "tenant_admin:mdf_allocation_changelist"
ZERO = Decimal("0")


def request_counts(membership: Membership) -> list[Count]:
    decides = membership.has_perm("mdf.decide_fundrequest")
    seconds = membership.has_perm("mdf.approve_large_fundrequest")
    if not decides and not seconds:
        return []
    now = timezone.now()
    mine = membership.role == Role.CHANNEL_MANAGER
    first = Q(status=FundRequest.Status.SUBMITTED, first_approved_by__isnull=True)
    if mine:
        user = membership.user_id
        first &= Q(approver_id=user) | Q(partner__channel_manager_id=user)
    if not decides:
        first = Q(pk__in=[])
    figures = FundRequest.objects.aggregate(
        waiting=Tally("pk", filter=first),
        late=Tally("pk", filter=first & Q(due_at__lte=now)),
        second=Tally(
            "pk",
            filter=Q(status=FundRequest.Status.SUBMITTED, first_approved_by__isnull=False),
        ),
    )
    url = reverse(REQUESTS)
    who = "&assigned=me" if mine else ""
    counts = []
    if decides:
        waiting = figures["waiting"]
        counts.append(
            Count(
                f"{plural(waiting, 'fund request')} to decide, oldest due first"
                if waiting
                else "No fund request waits for your decision",
                f"{url}?status=submitted&second=no{who}",
            )
        )
        if figures["late"]:
            counts.append(
                Count(
                    f"{plural(figures['late'], 'fund request')} past the decision deadline",
                    f"{url}?deadline=overdue&second=no{who}",
                    urgent=True,
                )
            )
    if seconds and figures["second"]:
        counts.append(
            Count(
                f"{plural(figures['second'], 'large request')} waiting for a second approval",
                f"{url}?second=yes",
            )
        )
    return counts


def claim_counts(membership: Membership) -> list[Count]:
    url = reverse(CLAIMS)
    submitted = Q(status=Claim.Status.SUBMITTED)
    if membership.has_perm("mdf.decide_claim"):
        figures = Claim.objects.aggregate(
            waiting=Tally("pk", filter=submitted),
            late=Tally("pk", filter=submitted & Q(due_at__lte=timezone.now())),
            doubled=Tally("pk", filter=submitted & ~Q(duplicate_of=[])),
        )
        counts = [
            Count(
                f"{plural(figures['waiting'], 'claim')} to review, oldest due first"
                if figures["waiting"]
                else "No claim waits for review",
                f"{url}?status=submitted",
            )
        ]
        if figures["late"]:
            counts.append(
                Count(
                    f"{plural(figures['late'], 'claim')} past the decision deadline",
                    f"{url}?deadline=overdue",
                    urgent=True,
                )
            )
        if figures["doubled"]:
            counts.append(
                Count(
                    f"{plural(figures['doubled'], 'claim')} with an invoice claimed elsewhere too",
                    f"{url}?status=submitted&duplicate=yes",
                    urgent=True,
                )
            )
        return counts
    if membership.has_perm("mdf.verify_claim"):
        unchecked = Claim.objects.filter(
            submitted, verified_at__isnull=True, partner__channel_manager_id=membership.user_id
        ).count()
        if unchecked:
            return [
                Count(
                    f"{plural(unchecked, 'claim')} of your partners with proof to check",
                    f"{url}?status=submitted&assigned=me&verified=no",
                )
            ]
    return []


def budget_counts(membership: Membership) -> list[Count]:
    """Where the open budgets stand (one query for the budgets, one for
    the allocations about to lose funds)."""
    tenant = membership.tenant
    today = tenant.local_today()
    figures = Budget.objects.filter(ends_on__gte=today).aggregate(
        budgets=Tally("pk"),
        amount=Sum("amount", default=ZERO),
        allocated=Sum("allocated", default=ZERO),
    )
    if not figures["budgets"]:
        return []
    used = Allocation.objects.filter(budget__ends_on__gte=today).aggregate(
        claimed_sum=Sum("claimed", default=ZERO),
        reserved_sum=Sum("reserved", default=ZERO),
        expiring=Tally(
            "pk",
            filter=Q(budget__ends_on__lte=today + timedelta(days=30))
            & Q(amount__gt=F("reserved") + F("claimed") + F("expired")),
        ),
    )
    currency = tenant.base_currency
    amount, allocated = figures["amount"], figures["allocated"]
    utilization = fmt.percent(used["claimed_sum"] / allocated * 100) if allocated else "-"
    url = reverse(BUDGETS)
    counts = [
        Count(
            f"{fmt.money(allocated, currency)} of {fmt.money(amount, currency)} allocated "
            f"in {plural(figures['budgets'], 'open budget')}; "
            f"{fmt.money(amount - allocated, currency)} left to allocate",
            f"{url}?state=open",
        ),
        Count(
            f"{fmt.money(used['claimed_sum'], currency)} claimed ({utilization} of allocated), "
            f"{fmt.money(used['reserved_sum'], currency)} reserved",
            f"{url}?state=open",
        ),
    ]
    if used["expiring"]:
        counts.append(
            Count(
                f"{plural(used['expiring'], 'allocation')} with unused funds expiring "
                "within 30 days",
                reverse(ALLOCATIONS) + "?expiring=30",
                urgent=True,
            )
        )
    return counts


CARDS = (
    Card(
        key="mdf.requests",
        title="Fund requests",
        url_name=REQUESTS,
        perms=("mdf.decide_fundrequest", "mdf.approve_large_fundrequest"),
        description="Marketing activities partners ask funds for.",
        counts=request_counts,
        order=40,
    ),
    Card(
        key="mdf.claims",
        title="MDF claims",
        url_name=CLAIMS,
        perms=("mdf.decide_claim", "mdf.verify_claim"),
        description="Proof of performance and the reimbursement it earns.",
        counts=claim_counts,
        empty="No claim waits for you.",
        order=41,
    ),
    Card(
        key="mdf.budgets",
        title="MDF budgets",
        url_name=BUDGETS,
        perms=("mdf.change_budget",),
        description="Budgets, allocations and what partners used of them.",
        counts=budget_counts,
        empty="No budget is open: add one for the current period.",
        order=42,
    ),
    Card(
        key="mdf.fund_types",
        title="Fund types",
        url_name="tenant_admin:mdf_fundtype_changelist",
        perms=("mdf.change_fundtype",),
        description="MDF and co-op funds: reimbursement, claim windows, eligible activities.",
        setup=True,
        order=550,
    ),
    Card(
        key="mdf.settings",
        title="MDF settings",
        url_name="tenant_admin:mdf_mdfsettings_changelist",
        perms=("mdf.change_mdfsettings",),
        description="Decision deadlines for fund requests and claims, reminders.",
        setup=True,
        order=560,
    ),
)
