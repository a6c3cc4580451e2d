"""The staff home card "Partners about to move" (ops and channel managers;
a channel manager's counts are of their own partners): how many partners
the next evaluation or review moves, and how many grace periods end within
the policy's notice days. Two queries (the policy's notice days, the counts)."""

from django.db.models import Count
from django.urls import reverse

from prm.tenancy.declarations import Card
from prm.tenancy.declarations import Count as CardCount
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role
from prm.tenancy.text import plural

from . import moving

PERM = "program.view_tierstanding"
LIST = "tenant_admin:program_tierstanding_changelist"
ROLES = frozenset({Role.OPS_ADMIN, Role.CHANNEL_MANAGER})


def moving_counts(membership: Membership) -> list[CardCount]:
    tenant = membership.tenant
    today = tenant.local_today()
    days = moving.notice_days(tenant)
    rows = moving.movers(tenant, today).select_related(None)
    query = ""
    if membership.role == Role.CHANNEL_MANAGER:
        rows = rows.filter(partner__channel_manager_id=membership.user_id)
        query = "manager=me"
    found = rows.aggregate(
        moving=Count("pk"), ending=Count("pk", filter=moving.ending_by(today, days))
    )
    url = reverse(LIST)
    counts = []
    if found["ending"]:
        counts.append(
            CardCount(
                f"{plural(found['ending'], 'grace period')} ending within {plural(days, 'day')}",
                f"{url}?{'&'.join(filter(None, [query, 'grace=soon']))}",
                urgent=True,
            )
        )
    if found["moving"]:
        counts.append(
            CardCount(
                f"{plural(found['moving'], 'partner')} about to move",
                f"{url}?{query}" if query else url,
            )
        )
    return counts


def for_reviewers(membership: Membership) -> bool:
    return membership.role in ROLES


CARDS = (
    Card(
        key="program.moving",
        title="Partners about to move",
        url_name=LIST,
        perms=(PERM,),
        description="Upgrades waiting for the review and grace periods running.",
        counts=moving_counts,
        empty="No partner is about to change tier.",
        visible=for_reviewers,
        order=45,
    ),
)
