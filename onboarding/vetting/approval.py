"""Approving an application: the partner, its primary contact, the
applicant's invitation as its partner admin, its channel manager and its
onboarding plan, in one transaction."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.urls import reverse

from partners.models import Contact, Partner, Tier
from partners.services import PartnerError, create_partner, region_for_country
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from prm.tenancy.services import TenancyError, audit, finish_tasks, invite, notify
from prm.webhooks.events import emit

from .. import mail, plans
from ..assignment import choose_manager, is_active_channel_manager
from ..errors import OnboardingError
from ..models import Application, ApplicationEvent, OnboardingSettings
from ..representations import application_data
from .access import (
    DECIDE,
    copy_back,
    event,
    lock,
    require_decider,
    require_status,
    resolve_now,
)
from .review import missing_checks

Status = Application.Status
Kind = ApplicationEvent.Kind


def _approval_refusals(
    application: Application, by: Membership, tier: Tier | None, manager: User | None
) -> Tier:
    """What can be refused before anything is written: returns the tier."""
    require_decider(by, application)
    if tier is None:
        tier = OnboardingSettings.for_tenant(application.tenant).joining_tier()
    if tier is None:
        raise OnboardingError("The program has no tier for new partners yet: add one.", "tier")
    if tier.tenant_id != application.tenant_id:
        raise OnboardingError("Choose a tier of this program.", "tier")
    if manager is not None and not is_active_channel_manager(manager):
        raise OnboardingError(
            f"{manager} is not an active channel manager of this program.", "channel_manager"
        )
    return tier


def approve(
    application: Application,
    *,
    by: Membership,
    tier: Tier | None = None,
    channel_manager: User | None = None,
    now: datetime | None = None,
) -> Application:
    """Admit the applicant: create the partner (type, country, the region
    of its country, ``tier`` or the joining tier; status onboarding), its
    primary contact, the applicant's invitation as its partner admin, its
    channel manager (``channel_manager``, else the assignment rules' or the
    least busy one) and its onboarding plan. All in one transaction:
    refused at any step, nothing is left. Mail leaves after commit."""
    now = resolve_now(now)
    tenant = application.tenant
    tier = _approval_refusals(application, by, tier, channel_manager)
    try:
        with transaction.atomic():
            locked = lock(application)
            require_decider(by, locked)
            require_status(locked, (Status.SUBMITTED,), "approved")
            missing = missing_checks(locked)
            if missing:
                names = ", ".join(f"“{c.name}”" for c in missing)
                raise OnboardingError(f"Tick the required checks first: {names}.", "checks")
            manager = channel_manager or choose_manager(locked)
            partner = create_partner(
                tenant=tenant,
                by=by.user,
                data={
                    "name": locked.company_name,
                    "legal_name": locked.legal_name,
                    "website": locked.website,
                    "partner_type": locked.partner_type,
                    "country": locked.country,
                    "region": region_for_country(tenant, str(locked.country)),
                    "tier": tier,
                    "status": Partner.Status.ONBOARDING,
                    "channel_manager": manager,
                },
            )
            Contact.objects.create(
                tenant=tenant,
                partner=partner,
                name=locked.contact_name,
                email=locked.contact_email.strip().lower(),
                phone=locked.contact_phone,
                is_primary=True,
            )
            invite(
                tenant=tenant,
                by=by,
                email=locked.contact_email,
                role=Role.PARTNER_ADMIN,
                partner=partner,
                now=now,
                admitting=True,
            )
            plan = plans.start_plan(partner, by=by.user, application=locked, now=now)
            _decide(locked, by, now, partner)
            _record_approval(locked, by, now, partner, manager, plan)
    except PartnerError as exc:
        raise OnboardingError(f"The partner could not be created: {exc}") from exc
    except TenancyError as exc:
        raise OnboardingError(f"The applicant could not be invited: {exc}") from exc
    return copy_back(locked, application)


def _decide(locked: Application, by: Membership, now: datetime, partner: Partner) -> None:
    locked.partner = partner
    locked.status = Status.APPROVED
    locked.decided_at = now
    locked.decided_by = by.user
    locked.next_check_at = None
    locked.info_token_hash = ""
    locked.save(
        update_fields=[
            "partner",
            "status",
            "decided_at",
            "decided_by",
            "next_check_at",
            "info_token_hash",
        ]
    )


def _record_approval(
    locked: Application,
    by: Membership,
    now: datetime,
    partner: Partner,
    manager: User | None,
    plan: Any,
) -> None:
    tenant = locked.tenant
    parts = [
        f"Partner {partner.name} created ({partner.tier}"
        + (f", {partner.region}" if partner.region else "")
        + ").",
        f"{locked.contact_email} invited as its partner admin.",
        f"Channel manager: {manager}." if manager else "No channel manager yet.",
        f"Onboarding plan “{plan.name}” started." if plan else "No plan template applies.",
    ]
    event(locked, Kind.APPROVED, now, by=by.user, message=" ".join(parts))
    audit(
        tenant,
        by=by.user,
        action="onboarding.application_approved",
        obj=locked,
        data={
            "partner": str(partner.pk),
            "tier": str(partner.tier),
            "channel_manager": str(manager or ""),
            "plan": str(plan.pk) if plan else None,
        },
        now=now,
    )
    mail.to_applicant(locked, "approved")
    finish_tasks(locked, DECIDE, now=now)
    emit(tenant, "application.approved", application_data(locked), now=now)
    if manager is not None and manager != by.user:
        notify(
            tenant,
            [manager],
            kind="onboarding.partner_assigned",
            title=f"{partner.name} joined the program: you are its channel manager",
            body=f"Approved from application {locked.code}. Their onboarding starts now.",
            url=reverse("tenant_admin:partners_partner_change", args=[partner.pk]),
        )
