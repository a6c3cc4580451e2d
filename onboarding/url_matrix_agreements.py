"""The agreements' part of the URL-matrix test (tests/test_url_matrix.py),
merged into ``url_matrix.py``: an agreement asked of every partner type,
its first version a PDF in force, accepted by the world's partner (so the
agreements gate holds none of the world's people while the matrix walks
the other pages), and a second version, in text, scheduled for later
(nobody accepted it: ops may delete it). Built through the ORM; each
factory returns the same objects when called again for the same tenant."""

from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile

from prm.tenancy.roles import ALL_ROLES, Role

from .models import Acceptance, Agreement, AgreementVersion

PDF_BYTES = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
TITLE = "Matrix partner agreement"
PARTNERS = {Role.PARTNER_ADMIN, Role.PARTNER_USER}


def agreement(world: Any) -> Agreement:
    with world.scope():
        found, _ = Agreement.objects.get_or_create(tenant=world.tenant, title=TITLE)
        return found


def accepted_version(world: Any) -> AgreementVersion:
    """Version 1 (a PDF, in force), accepted by the world's partner."""
    source = agreement(world)
    with world.scope():
        found = AgreementVersion.objects.filter(agreement=source, number=1).first()
        if found is None:
            found = AgreementVersion(
                tenant=world.tenant,
                agreement=source,
                number=1,
                effective_on=world.tenant.local_today() - timedelta(days=30),
                content_sha256=AgreementVersion.digest(PDF_BYTES),
            )
            found.pdf.save("matrix.pdf", ContentFile(PDF_BYTES), save=True)
        if not Acceptance.objects.filter(version=found, partner=world.partner).exists():
            Acceptance.objects.create(
                tenant=world.tenant,
                version=found,
                partner=world.partner,
                user=world[Role.PARTNER_ADMIN].user,
                typed_name="Matrix Admin",
                ip_address="192.0.2.10",
                user_agent="Matrix",
                content_sha256=found.content_sha256,
            )
        return found


def acceptance(world: Any) -> Acceptance:
    version = accepted_version(world)
    with world.scope():
        return Acceptance.objects.get(version=version, partner=world.partner)


def scheduled_version(world: Any) -> AgreementVersion:
    """Version 2 (text), taking effect in a month: nobody accepted it."""
    accepted_version(world)
    source = agreement(world)
    with world.scope():
        found = AgreementVersion.objects.filter(agreement=source, number=2).first()
        if found is not None:
            return found
        body = "# Matrix agreement\n\nVersion 2."
        return AgreementVersion.objects.create(
            tenant=world.tenant,
            agreement=source,
            number=2,
            body=body,
            effective_on=world.tenant.local_today() + timedelta(days=30),
            content_sha256=AgreementVersion.digest(body.encode()),
        )


def version_args(world: Any) -> list[Any]:
    return [accepted_version(world).pk]


def acceptance_args(world: Any) -> list[Any]:
    return [acceptance(world).pk]


PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "onboarding:agreements": {"allowed": PARTNERS},
    "onboarding:agreement": {"allowed": PARTNERS, "args": version_args},
    "onboarding:agreement_pdf": {"allowed": ALL_ROLES, "args": version_args},
    "onboarding:receipt": {"allowed": ALL_ROLES, "args": acceptance_args},
}
ADMIN_OBJECTS = {
    "onboarding.agreement": agreement,
    "onboarding.agreementversion": scheduled_version,
    "onboarding.acceptance": acceptance,
}
# Agreements are deactivated, never deleted; acceptances are the record.
ADMIN_NOBODY = {
    ("onboarding.agreement", "delete"),
    ("onboarding.acceptance", "add"),
    ("onboarding.acceptance", "change"),
    ("onboarding.acceptance", "delete"),
}
CUSTOM_ADMIN_VIEWS = {
    "onboarding_acceptance_report": "onboarding.view_acceptance",
    "onboarding_acceptance_export": "onboarding.export_acceptance",
}
