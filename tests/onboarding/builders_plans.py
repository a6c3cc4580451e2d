"""Building onboarding plan data for the plan tests, inside the world's
scope: templates with steps of each kind, agreements (with a version and an
acceptance), plans started through the service, product lines and deal
registrations submitted and approved through deal registration's services,
and files to upload."""

import datetime as dt
import uuid
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from dealreg import services as dealreg
from dealreg.models import ProductLine
from onboarding import plans
from onboarding.models import (
    Acceptance,
    Agreement,
    AgreementVersion,
    Owner,
    PlanTemplate,
    StepKind,
    TemplateStep,
)
from prm.tenancy.roles import Role

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML = b"<!doctype html><html><script>alert(1)</script></html>"
CSV = b"a,b\n1,2\n3,4\n"


def pdf(name="w9.pdf", content=PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def noon(world, day: dt.date) -> dt.datetime:
    """Noon of ``day`` in the tenant's time zone."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=world.tenant.tzinfo)


def agreement(world, title="Partner program agreement", *, effective_on=None) -> Agreement:
    """An agreement with a first version (in force from ``effective_on``,
    default: the future, so that it holds nobody back at the portal gate)."""
    found = Agreement.objects.create(tenant=world.tenant, title=title)
    AgreementVersion.objects.create(
        tenant=world.tenant,
        agreement=found,
        number=1,
        body="# Terms\n\nBe nice.",
        content_sha256="0" * 64,
        effective_on=effective_on or world.tenant.local_today() + dt.timedelta(days=365),
    )
    return found


def accept(world, found: Agreement, *, at: dt.datetime, partner=None) -> Acceptance:
    version = found.versions.order_by("-number").first()
    return Acceptance.objects.create(
        tenant=world.tenant,
        version=version,
        partner=partner or world.partner,
        user=world[Role.PARTNER_ADMIN].user,
        typed_name="Pat Admin",
        accepted_at=at,
        content_sha256=version.content_sha256,
    )


def step(kind, title=None, *, owner=Owner.PARTNER, due_days=10, required=True, **extra) -> dict:
    return {
        "kind": kind,
        "title": title or str(StepKind(kind).label),
        "owner": owner,
        "due_days": due_days,
        "required": required,
        **extra,
    }


def template(world, steps, *, name="Reseller onboarding", tier=None, target_days=90, **extra):
    found = PlanTemplate.objects.create(
        tenant=world.tenant,
        name=name,
        partner_type=extra.pop("partner_type", world.partner.partner_type),
        tier=tier,
        target_days=target_days,
        **extra,
    )
    for position, values in enumerate(steps):
        TemplateStep.objects.create(
            tenant=world.tenant, template=found, position=position, **values
        )
    return found


def full_template(world, *, agreement_obj=None, **extra):
    """One step of every kind (the kickoff the channel manager's), due 5, 10, 15, ... days."""
    kinds = [
        step(StepKind.AGREEMENT, agreement=agreement_obj or agreement(world), due_days=5),
        step(StepKind.PROFILE, due_days=10),
        step(StepKind.DOCUMENT, "Upload your W-9", document_name="W-9", due_days=15),
        step(StepKind.TRAINING, "Sales basics", course_code="SALES-101", due_days=20),
        step(StepKind.KICKOFF, owner=Owner.CHANNEL_MANAGER, due_days=25),
        step(StepKind.CUSTOM, "Add your team", due_days=30),
        step(StepKind.FIRST_REGISTRATION, due_days=45),
        step(StepKind.FIRST_APPROVAL, due_days=60),
    ]
    return template(world, kinds, **extra)


def start(world, found=None, *, partner=None, now=None):
    return plans.start_plan(
        partner or world.partner, by=world[Role.OPS_ADMIN].user, template=found, now=now
    )


def products(world) -> dict:
    return {
        code: ProductLine.objects.get_or_create(
            tenant=world.tenant, code=code, defaults={"name": name}
        )[0]
        for code, name in (("fw", "Firewall"), ("edr", "Endpoint"))
    }


def registration_input(world, **overrides):
    data = {
        "customer_name": overrides.pop("customer_name", "Initech Corporation"),
        "customer_domain": "initech.example",
        "customer_country": "US",
        "customer_contact_name": "Bill Lumbergh",
        "customer_contact_email": "bill@initech.example",
        "estimated_value": Decimal("25000.00"),
        "currency": "USD",
        "expected_close_date": dt.date.today() + dt.timedelta(days=60),
        "description": "Firewall refresh",
        **overrides,
    }
    return dealreg.RegistrationInput(data=data, product_lines=[products(world)["fw"]])


def submit(world, *, role=Role.PARTNER_USER, now=None, **fields):
    """Submit a registration as a partner member (call inside
    ``django_capture_on_commit_callbacks(execute=True)`` to run what
    follows the commit, as a worker would)."""
    return dealreg.submit(
        tenant=world.tenant,
        by=world[role],
        given=registration_input(world, **fields),
        client_token=uuid.uuid4(),
        now=now,
    )


def approve(world, registration, *, now=None):
    return dealreg.approve(registration, by=world[Role.CHANNEL_MANAGER], now=now)
