"""Compliance reviews for the program tests, inside the world's scope."""

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile

from prm.tenancy.roles import Role
from program import compliance
from program.models import ComplianceItem, ComplianceReview, ComplianceSettings

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
Kind = ComplianceItem.Kind


def pdf(name="doc.pdf", body=PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/pdf")


def policy(world, **fields) -> ComplianceSettings:
    row = ComplianceSettings.for_tenant(world.tenant)
    fields.setdefault("enabled", True)
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return row


def complete_profile(partner) -> None:
    partner.legal_name = partner.legal_name or f"{partner.name} LLC"
    partner.phone = partner.phone or "+1 555 0100"
    partner.address = partner.address or "1 Main Street"
    partner.website = partner.website or "https://partner.example"
    partner.save()


def review(world, partner=None, *, opens_on=None, days=30) -> ComplianceReview:
    partner = partner or world.partner
    opens_on = opens_on or world.tenant.local_today()
    row = policy(world, complete_within_days=days)
    found = compliance.open_review(partner, opens_on=opens_on, policy=row)
    assert found is not None
    return found


def item(world, label="Anti-bribery policy", kind=Kind.ATTESTATION, **fields) -> ComplianceItem:
    return ComplianceItem.objects.create(tenant=world.tenant, label=label, kind=kind, **fields)


def ready(world, found: ComplianceReview, items=()) -> ComplianceReview:
    """Everything the partner admin does before submitting."""
    admin = world[Role.PARTNER_ADMIN]
    complete_profile(found.partner)
    for it in items:
        if it.kind == Kind.FILE:
            compliance.upload_answer(found, it, pdf(), by=admin)
        else:
            compliance.attest(found, it, by=admin, name="Pat Admin")
    return compliance.upload_tax_document(found, pdf("w9.pdf"), by=admin)


def submitted(world, partner=None, **kwargs) -> ComplianceReview:
    found = ready(world, review(world, partner, **kwargs))
    return compliance.submit(found, by=world[Role.PARTNER_ADMIN])


def overdue(world, partner=None) -> ComplianceReview:
    """A review opened 40 days ago, due 10 days ago, still open."""
    today = world.tenant.local_today()
    return review(world, partner, opens_on=today - dt.timedelta(days=40), days=30)
