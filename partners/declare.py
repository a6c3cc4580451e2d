"""The partner directory's declaration: its permissions, the partner's own
cards on the portal home, the directory's cards for staff."""

from typing import TYPE_CHECKING, Any

from django.db.models import Count as Tally
from django.db.models import Q
from django.urls import reverse

from prm.tenancy.declarations import Card, Count, PartnerPanel, PRMApp, WebhookEvent
from prm.tenancy.roles import OPS, STAFF_ROLES, Role
from prm.tenancy.text import plural

from .facts import SOURCE as FACTS
from .health import HEALTH_COMPONENTS
from .metrics import METRICS
from .models import Partner, without_people
from .tier_panel import tier_panel

if TYPE_CHECKING:
    from prm.tenancy.models import Membership

PARTNER_LIST = "tenant_admin:partners_partner_changelist"


def directory_counts(membership: "Membership") -> list[Count]:
    """A channel manager's own partners; for ops, the active partners nobody
    manages and those with nobody in the portal (to invite); for executives
    and finance, the active partners (one query)."""
    user_id = membership.user_id
    figures = Partner.objects.aggregate(
        mine=Tally("pk", filter=Q(channel_manager_id=user_id)),
        unmanaged=Tally("pk", filter=Q(channel_manager__isnull=True, status=Partner.Status.ACTIVE)),
        active=Tally("pk", filter=Q(status=Partner.Status.ACTIVE)),
        nobody=Tally("pk", filter=Q(status=Partner.Status.ACTIVE) & without_people()),
    )
    url = reverse(PARTNER_LIST)
    counts = []
    if membership.role in (Role.EXECUTIVE, Role.FINANCE):
        # Read-only: the program's size.
        counts.append(
            Count(f"{plural(figures['active'], 'active partner')}", f"{url}?status__exact=active")
        )
    if membership.role == Role.CHANNEL_MANAGER or figures["mine"]:
        counts.append(
            Count(f"{plural(figures['mine'], 'partner')} you manage", f"{url}?manager=me")
        )
    if membership.role == Role.OPS_ADMIN and figures["unmanaged"]:
        counts.append(
            Count(
                f"{plural(figures['unmanaged'], 'active partner')} without a channel manager",
                f"{url}?manager=none&status__exact=active",
                urgent=True,
            )
        )
    if membership.role == Role.OPS_ADMIN and figures["nobody"]:
        counts.append(
            Count(
                f"{plural(figures['nobody'], 'active partner')} with nobody in the portal yet",
                f"{url}?people=none&status__exact=active",
            )
        )
    return counts


def organisation(membership: "Membership") -> dict[str, Any]:
    from prm.tenancy.models import Membership

    partner = membership.partner
    return {
        "partner": partner,
        "colleague_count": Membership.objects.filter(partner=partner, is_active=True).count(),
    }


def manager(membership: "Membership") -> dict[str, Any]:
    assert membership.partner is not None  # a partner role's card
    return {"manager": membership.partner.channel_manager}


APP = PRMApp(
    label="partners",
    permissions={
        "partners.view_partner": STAFF_ROLES,
        "partners.add_partner": OPS,
        "partners.change_partner": {Role.OPS_ADMIN, Role.CHANNEL_MANAGER},
        "partners.delete_partner": OPS,
        "partners.import_partner": OPS,
        "partners.export_partner": {Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.EXECUTIVE},
        "partners.view_contact": STAFF_ROLES,
        "partners.add_contact": {Role.OPS_ADMIN, Role.CHANNEL_MANAGER},
        "partners.change_contact": {Role.OPS_ADMIN, Role.CHANNEL_MANAGER},
        "partners.delete_contact": {Role.OPS_ADMIN, Role.CHANNEL_MANAGER},
        "partners.view_tier": STAFF_ROLES,
        "partners.add_tier": OPS,
        "partners.change_tier": OPS,
        "partners.delete_tier": OPS,
        "partners.view_region": STAFF_ROLES,
        "partners.add_region": OPS,
        "partners.change_region": OPS,
        "partners.delete_region": OPS,
        # The tier history is append-only: written by tier changes, read by staff.
        "partners.view_tierchange": STAFF_ROLES,
    },
    # Channel managers change only the partners assigned to them.
    object_scoped={
        "partners.change_partner": {Role.CHANNEL_MANAGER},
        "partners.change_contact": {Role.CHANNEL_MANAGER},
        "partners.add_contact": {Role.CHANNEL_MANAGER},
        "partners.delete_contact": {Role.CHANNEL_MANAGER},
    },
    cards=(
        Card(
            key="partners.organisation",
            title="Your organisation",
            perms=("portal.partner_home",),
            template="partners/cards/organisation.html",
            context=organisation,
            order=10,
        ),
        Card(
            key="partners.manager",
            title="Your channel manager",
            perms=("portal.partner_home",),
            template="partners/cards/manager.html",
            context=manager,
            order=20,
        ),
        Card(
            key="partners.directory",
            title="Partner directory",
            url_name=PARTNER_LIST,
            perms=("partners.view_partner",),
            description="Partners, tiers, contacts and their channel managers.",
            counts=directory_counts,
            order=10,
        ),
        Card(
            key="partners.import",
            title="Import partners",
            url_name="tenant_admin:partners_partner_import",
            perms=("partners.import_partner",),
            description="Bring partners in from a CSV file, with a dry run first.",
            setup=True,
            order=500,
        ),
        Card(
            key="partners.tiers",
            title="Tiers",
            url_name="tenant_admin:partners_tier_changelist",
            perms=("partners.change_tier",),
            description="Program tiers and their benefits.",
            setup=True,
            order=510,
        ),
        Card(
            key="partners.regions",
            title="Regions",
            url_name="tenant_admin:partners_region_changelist",
            perms=("partners.change_region",),
            description="Sales regions and the countries in each.",
            setup=True,
            order=520,
        ),
    ),
    api="partners.api",
    webhook_events=(
        WebhookEvent("partner.created", "A partner was added to the directory"),
        WebhookEvent("partner.tier_changed", "A partner moved to another tier"),
    ),
    demo="partners.demo.seed",
    url_matrix="partners.url_matrix",
    partner_panels=(
        PartnerPanel(
            key="partners.tier_history",
            title="Tier history",
            template="partners/tier_panel.html",
            context=tier_panel,
            perms=("partners.view_tierchange",),
            css=("admin/dealreg.css",),
            order=20,
        ),
    ),
    metrics=METRICS,
    facts=(FACTS,),
    health_components=HEALTH_COMPONENTS,
)
