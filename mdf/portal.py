"""What the partner portal shows of MDF outside its own pages: the "Funds"
menu entry and the partner's home card. Constants for ``mdf.declare``:
``NAV`` goes into ``PRMApp.nav``, ``CARDS`` into ``PRMApp.cards``."""

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.urls import reverse

from prm import format as fmt
from prm.tenancy.declarations import Card, NavEntry
from prm.tenancy.declarations import Count as CardCount

from .models import Allocation, Claim, FundRequest

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

PERM = "portal.mdf"
# A claim window closing this soon is on the card.
CLAIM_SOON_DAYS = 14
Status = FundRequest.Status


def partner_counts(membership: "Membership") -> list[CardCount]:
    """Available funds, requests awaiting a decision, claims due soon and
    questions waiting for the partner: two queries."""
    assert membership.partner_id is not None  # a partner role's card
    today = membership.tenant.local_today()
    funds_url = reverse("mdf:funds")
    requests_url = reverse("mdf:requests")
    available = Allocation.objects.filter(
        partner_id=membership.partner_id, budget__ends_on__gte=today
    ).aggregate(
        left=Sum(F("amount") - F("reserved") - F("claimed") - F("expired"), default=Decimal(0))
    )["left"]
    asked = Claim.objects.filter(request=OuterRef("pk"), status=Claim.Status.MORE_INFO)
    found = (
        FundRequest.objects.filter(partner_id=membership.partner_id)
        .annotate(claim_asked=Exists(asked))
        .aggregate(
            pending=Count("pk", filter=Q(status=Status.SUBMITTED)),
            asked=Count("pk", filter=Q(status=Status.MORE_INFO) | Q(claim_asked=True)),
            claim_soon=Count(
                "pk",
                filter=Q(
                    status=Status.APPROVED,
                    ends_on__lte=today,
                    claim_deadline__gte=today,
                    claim_deadline__lte=today + timedelta(days=CLAIM_SOON_DAYS),
                ),
            ),
        )
    )
    counts = []
    if found["asked"]:
        counts.append(
            CardCount(
                f"{fmt.plural(found['asked'], 'question')} from the vendor to answer",
                f"{requests_url}?status={Status.MORE_INFO}"
                if not found["claim_soon"]
                else requests_url,
                urgent=True,
            )
        )
    if found["claim_soon"]:
        counts.append(
            CardCount(
                f"{fmt.plural(found['claim_soon'], 'activity,activities')} to claim within "
                f"{CLAIM_SOON_DAYS} days",
                f"{requests_url}?status={Status.APPROVED}",
                urgent=True,
            )
        )
    if found["pending"]:
        counts.append(
            CardCount(
                f"{fmt.plural(found['pending'], 'request')} awaiting a decision",
                f"{requests_url}?status={Status.SUBMITTED}",
            )
        )
    if available:
        counts.append(
            CardCount(
                f"{fmt.money(available, membership.tenant.base_currency)} available to request",
                funds_url,
            )
        )
    return counts


NAV = (NavEntry("mdf:funds", "Funds", (PERM,), order=250),)

CARDS = (
    Card(
        key="mdf.partner_funds",
        title="Marketing funds",
        url_name="mdf:funds",
        perms=(PERM,),
        description="Ask for funds before an activity, claim them after it with proof.",
        counts=partner_counts,
        empty="No funds to request right now, and nothing waiting for you.",
        order=45,
    ),
)
