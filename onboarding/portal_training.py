"""What the partner portal shows of training outside its own pages: the
"Training" menu entry and the partner's home card. Constants for
``onboarding.declare``: ``NAV`` goes into ``PRMApp.nav``, ``CARDS`` into
``PRMApp.cards``."""

from datetime import timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse

from prm import format as fmt
from prm.tenancy.declarations import Card, NavEntry
from prm.tenancy.declarations import Count as CardCount

from .models import TrainingRecord, valid_on

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

PERM = "portal.training"
# A certification stopping to count this soon is flagged.
SOON_DAYS = 60


def renewed() -> Exists:
    """A later confirmed record of the same certification for the same
    person: the earlier one's expiry no longer matters."""
    return Exists(
        TrainingRecord.objects.filter(
            membership_id=OuterRef("membership_id"),
            certification_id=OuterRef("certification_id"),
            status=TrainingRecord.Status.CONFIRMED,
            completed_on__gt=OuterRef("completed_on"),
        )
    )


def partner_counts(membership: "Membership") -> list[CardCount]:
    """Certified people, certifications expiring soon (not earned again
    since) and reports waiting for the vendor: one query."""
    assert membership.partner_id is not None  # a partner role's card
    today = membership.tenant.local_today()
    url = reverse("onboarding:training")
    certification = Q(certification__isnull=False)
    found = (
        TrainingRecord.objects.filter(partner_id=membership.partner_id, membership__is_active=True)
        .annotate(renewed=renewed())
        .aggregate(
            certified=Count("membership_id", distinct=True, filter=certification & valid_on(today)),
            expiring=Count(
                "pk",
                filter=certification
                & Q(
                    status=TrainingRecord.Status.CONFIRMED,
                    expires_on__gt=today,
                    expires_on__lte=today + timedelta(days=SOON_DAYS),
                    renewed=False,
                ),
            ),
            pending=Count("pk", filter=Q(status=TrainingRecord.Status.PENDING)),
        )
    )
    counts = []
    if found["expiring"]:
        counts.append(
            CardCount(
                f"{fmt.plural(found['expiring'], 'certification')} expiring within "
                f"{SOON_DAYS} days",
                f"{url}#expiring",
                urgent=True,
            )
        )
    if found["pending"]:
        counts.append(
            CardCount(
                f"{fmt.plural(found['pending'], 'report')} waiting for the vendor", f"{url}#team"
            )
        )
    if found["certified"]:
        counts.append(
            CardCount(f"{fmt.plural(found['certified'], 'certified person,certified people')}", url)
        )
    return counts


NAV = (NavEntry("onboarding:training", "Training", (PERM,), order=150),)

CARDS = (
    Card(
        key="onboarding.training",
        title="Training",
        url_name="onboarding:training",
        perms=(PERM,),
        description="Your team's courses and certifications, and what expires soon.",
        counts=partner_counts,
        empty="Nobody is certified yet: see the courses and certifications on offer.",
        order=50,
    ),
)
