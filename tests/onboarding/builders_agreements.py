"""Agreements for the onboarding tests, written through the services:
agreements with versions (text or PDF) added by the world's ops admin,
acceptances by its partner admin. Call inside the world's scope."""

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile

from onboarding import acceptance
from onboarding.models import Acceptance, Agreement, AgreementVersion
from prm.tenancy.roles import Role

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
TEXT = "# Partner program agreement\n\n1. Sell the products.\n2. Register your deals.\n"


def pdf_file(content: bytes = PDF, name: str = "agreement.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, "application/pdf")


def today(world) -> dt.date:
    return world.tenant.local_today()


def agreement(world, title: str = "Partner program agreement", **fields) -> Agreement:
    return Agreement.objects.create(tenant=world.tenant, title=title, **fields)


def version(
    world,
    source: Agreement | None = None,
    *,
    body: str = TEXT,
    pdf=None,
    effective_on: dt.date | None = None,
    days_ago: int | None = None,
    **fields,
) -> AgreementVersion:
    """A new version of ``source`` (default: a new agreement asked of every
    type), in force from ``effective_on`` (default: ``days_ago`` days ago,
    else today)."""
    source = source or agreement(world)
    if effective_on is None:
        effective_on = today(world) - dt.timedelta(days=days_ago or 0)
    return acceptance.add_version(
        source,
        by=world[Role.OPS_ADMIN],
        body="" if pdf is not None else body,
        pdf=pdf,
        effective_on=effective_on,
        **fields,
    )


def accept(world, version: AgreementVersion, *, now=None, name: str = "Pat Partner") -> Acceptance:
    return acceptance.accept(
        version,
        by=world[Role.PARTNER_ADMIN],
        typed_name=name,
        ip="198.51.100.7",
        user_agent="Mozilla/5.0 (Test)",
        now=now,
    )
