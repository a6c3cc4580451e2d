"""Building vetting data for tests: applications in the ORM (the public
form is another area's), queued through ``vetting.queue``; checklist
items, assignment rules and a plan template. Call inside the world's scope."""

import itertools

from django.utils import timezone

from onboarding import vetting
from onboarding.models import (
    Application,
    AssignmentRule,
    PlanTemplate,
    StepKind,
    TemplateStep,
    VettingCheck,
)
from partners.normalize import normalize_domain, normalize_name

_seq = itertools.count(1)
Status = Application.Status


def application(world, *, status=Status.SUBMITTED, company=None, website=None, **extra):
    """An application as the public form and its confirmation leave it."""
    n = next(_seq)
    company = company or f"Northwind Traders {n}"
    website = website if website is not None else f"https://northwind{n}.test"
    values = {
        "country": "US",
        "partner_type": "reseller",
        "company_size": Application.Size.SMALL,
        "contact_name": "Nora North",
        "contact_email": f"nora{n}@northwind{n}.test",
        "contact_phone": "+1 555 0100",
        "specialities": "Networking",
        "markets": "Retail",
        **extra,
    }
    if status != Status.UNCONFIRMED:
        values.setdefault("confirmed_at", timezone.now())
    return Application.objects.create(
        tenant=world.tenant,
        status=status,
        company_name=company,
        normalized_name=normalize_name(company),
        website=website,
        domain=normalize_domain(website),
        **values,
    )


def queued(world, now=None, **extra) -> Application:
    """A confirmed application put in the queue (what ON_QUEUED does)."""
    return vetting.queue(application(world, **extra), now or timezone.now())


def check(world, name, *, required=True, position=0, is_active=True) -> VettingCheck:
    return VettingCheck.objects.create(
        tenant=world.tenant, name=name, required=required, position=position, is_active=is_active
    )


def tick_all(world, app, by) -> None:
    for item in vetting.missing_checks(app):
        vetting.tick_check(app, item, by=by)


def rule(world, manager, *, name=None, priority=100, regions=(), **extra) -> AssignmentRule:
    made = AssignmentRule.objects.create(
        tenant=world.tenant,
        name=name or f"Rule {next(_seq)}",
        priority=priority,
        manager=manager,
        **extra,
    )
    if regions:
        made.regions.set(regions)
    return made


def template(world, partner_type="reseller") -> PlanTemplate:
    made = PlanTemplate.objects.create(
        tenant=world.tenant,
        name=f"{partner_type} onboarding {next(_seq)}",
        partner_type=partner_type,
    )
    TemplateStep.objects.create(
        tenant=world.tenant,
        template=made,
        position=1,
        title="Kickoff call",
        kind=StepKind.KICKOFF,
        owner="channel_manager",
        due_days=14,
    )
    return made
