"""The onboarding plans' part of the URL-matrix test (tests/test_url_matrix.py),
merged into ``onboarding/url_matrix.py``; loaded by the tests only. The
world's partner gets a plan from a template with a custom step its admin
ticks, a document step with an uploaded PDF, a kickoff call and a first
deal, built through the services. Each factory returns the same objects when
called again for the same tenant (the matrix calls it for every route and
role)."""

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from prm.tenancy.roles import ALL_ROLES, PARTNER_ROLES, Role

from . import plan_documents, plans
from .models import Owner, Plan, PlanStep, PlanTemplate, StepKind, TemplateStep

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEMPLATE = "Matrix onboarding"


def _template(world: Any) -> PlanTemplate:
    found = PlanTemplate.objects.filter(name=TEMPLATE).first()
    if found is not None:
        return found
    template = PlanTemplate.objects.create(
        tenant=world.tenant, name=TEMPLATE, partner_type=world.partner.partner_type
    )
    steps = [
        ("Set up your team", StepKind.CUSTOM, Owner.PARTNER, {}),
        ("Upload your W-9", StepKind.DOCUMENT, Owner.PARTNER, {"document_name": "W-9"}),
        ("Kickoff call", StepKind.KICKOFF, Owner.CHANNEL_MANAGER, {}),
        ("Register a first deal", StepKind.FIRST_REGISTRATION, Owner.PARTNER, {}),
    ]
    for position, (title, kind, owner, extra) in enumerate(steps):
        TemplateStep.objects.create(
            tenant=world.tenant,
            template=template,
            position=position,
            title=title,
            kind=kind,
            owner=owner,
            due_days=10 * (position + 1),
            **extra,
        )
    return template


def _plan(world: Any) -> Plan:
    found = Plan.objects.filter(partner=world.partner).first()
    if found is not None:
        return found
    plan = plans.start_plan(world.partner, by=world[Role.OPS_ADMIN].user, template=_template(world))
    assert plan is not None
    step = plan.steps.get(kind=StepKind.DOCUMENT)
    plan_documents.upload(
        step,
        SimpleUploadedFile("w9.pdf", PDF, content_type="application/pdf"),
        by=world[Role.PARTNER_ADMIN],
    )
    return plan


def template(world: Any) -> PlanTemplate:
    with world.scope():
        return _template(world)


def plan(world: Any) -> Plan:
    with world.scope():
        return _plan(world)


def _step(world: Any, kind: str) -> list[Any]:
    with world.scope():
        return [PlanStep.objects.get(plan=_plan(world), kind=kind).pk]


def custom_step(world: Any) -> list[Any]:
    return _step(world, StepKind.CUSTOM)


def document_step(world: Any) -> list[Any]:
    return _step(world, StepKind.DOCUMENT)


PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "onboarding:plan": {"allowed": PARTNER_ROLES},
    "onboarding:profile": {"allowed": PARTNER_ROLES},
    "onboarding:step_tick": {
        "allowed": {Role.PARTNER_ADMIN},
        "method": "post",
        "args": custom_step,
    },
    "onboarding:step_upload": {
        "allowed": {Role.PARTNER_ADMIN},
        "method": "post",
        "args": document_step,
    },
    "onboarding:step_document": {"allowed": ALL_ROLES, "args": document_step},
}
ADMIN_OBJECTS = {"onboarding.plantemplate": template, "onboarding.plan": plan}
ADMIN_NOBODY: set[tuple[str, str]] = set()
CUSTOM_ADMIN_VIEWS = {"onboarding_plan_start": "onboarding.start_plan"}
PERM_MODEL: dict[str, str] = {}
