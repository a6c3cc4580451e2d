"""The "Tier" panel on a partner's staff page (``PRMApp.partner_panels``):
what the partner sees on its "Tier progress" page, for its channel manager
and ops: the tier held, the tier the last evaluation found it qualifies
for, a hold (with its reason: staff see it) or a grace period, and the next
tier's criteria with what is missing (``progress.build``, live)."""

from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse

from partners.models import Partner
from prm.tenancy.declarations import PartnerPanel

from . import progress

PERM = "program.view_tierstanding"


def tier_panel(request: HttpRequest, partner: Model) -> dict[str, Any]:
    assert isinstance(partner, Partner)  # the partner's page
    found = progress.build(partner)
    return {
        "p": found,
        "days_left": (found.grace_until - found.day).days if found.grace_until else None,
        "moving_url": reverse("tenant_admin:program_tierstanding_changelist"),
    }


PANELS = (
    PartnerPanel(
        key="program.tier",
        title="Tier",
        template="admin/program/tier_panel.html",
        context=tier_panel,
        perms=(PERM,),
        css=("admin/dealreg.css", "admin/program.css"),
        order=15,
    ),
)
