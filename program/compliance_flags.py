"""Where a partner out of compliance shows, outside the review's own
pages: the restriction on new deal registrations (when ops choose it:
``ComplianceSettings.blocks_registrations``) and the "Compliance" panel on
the partner's staff page. Constants for ``program.declare``:
``RESTRICTIONS`` go into ``PRMApp.restrictions``, ``PANELS`` into
``PRMApp.partner_panels``."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, Model, OuterRef
from django.http import HttpRequest
from django.urls import reverse

from partners.models import Partner
from prm import format as fmt
from prm.tenancy.admin_base import admin_url
from prm.tenancy.declarations import PartnerPanel, Refusal, Restriction
from prm.tenancy.requests import as_member

from . import compliance, compliance_checks
from .models import ComplianceReview, ComplianceSettings

# The action deal registration asks about (``dealreg.submission.REGISTER``).
REGISTER = "dealreg.register"
REVIEWS = "tenant_admin:program_compliancereview_changelist"


def blocking_review(partner: Any) -> ComplianceReview | None:
    """The partner's overdue review when the tenant runs reviews and lets
    being out of compliance block new registrations (one query)."""
    if partner is None:
        return None
    blocking = ComplianceSettings.objects.filter(
        tenant_id=OuterRef("tenant_id"), enabled=True, blocks_registrations=True
    )
    today = partner.tenant.local_today()
    return (
        ComplianceReview.objects.filter(compliance.overdue_q(today), partner_id=partner.pk)
        .filter(Exists(blocking))
        .only("pk", "due_on", "status")
        .first()
    )


def refuses(partner: Any) -> Refusal | None:
    review = blocking_review(partner)
    if review is None:
        return None
    if review.status == ComplianceReview.Status.SUBMITTED:
        waiting = "It is submitted and waits for your channel manager's sign-off"
    else:
        waiting = "A partner admin of yours completes it and submits it"
    return Refusal(
        message=f"Your organisation's compliance review was due on {fmt.day(review.due_on)} "
        f"and is not signed off, so new deal registrations are on hold. {waiting}; "
        "registrations open again as soon as it is signed off.",
        url=compliance.portal_url(),
        action="See the compliance review",
    )


RESTRICTIONS = (Restriction(key="program.compliance", action=REGISTER, refuses=refuses),)


def panel(request: HttpRequest, partner: Model) -> dict[str, Any]:
    assert isinstance(partner, Partner)  # the partner's page
    today = partner.tenant.local_today()
    review = compliance.current(partner)
    found: dict[str, Any] = {
        "review": review,
        "enabled": ComplianceSettings.for_tenant(partner.tenant).enabled,
        "list_url": f"{reverse(REVIEWS)}?partner={partner.pk}",
    }
    if review is not None:
        found.update(
            overdue=review.is_overdue(today),
            late_days=(today - review.due_on).days,
            review_url=admin_url(review),
            checks=compliance_checks.automatic(review, today),
            may_decide=review.status == ComplianceReview.Status.SUBMITTED
            and as_member(request).membership.has_perm(compliance.DECIDE_PERM, partner),
        )
    return found


PANELS = (
    PartnerPanel(
        key="program.compliance",
        title="Compliance",
        template="admin/program/compliance_panel.html",
        context=panel,
        perms=("program.view_compliancereview",),
        css=("admin/dealreg.css",),
        order=40,
    ),
)
