"""Compliance reviews' part of the URL-matrix test (tests/test_url_matrix.py),
merged into ``program/url_matrix.py``; loaded by the tests only. The
world's partner gets a review (opened through the service) with a file
item answered and a tax document uploaded by its partner admin; each
factory returns the same objects when called again for the same tenant
(the matrix calls it for every route and role)."""

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from prm.tenancy.roles import ALL_ROLES, PARTNER_ROLES, Role

from . import compliance
from .models import ComplianceAnswer, ComplianceItem, ComplianceReview, ComplianceSettings

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
LABEL = "Matrix insurance"


def _pdf() -> SimpleUploadedFile:
    return SimpleUploadedFile("doc.pdf", PDF, content_type="application/pdf")


def _item(world: Any) -> ComplianceItem:
    found, _ = ComplianceItem.objects.get_or_create(
        tenant=world.tenant, label=LABEL, defaults={"kind": ComplianceItem.Kind.FILE}
    )
    return found


def _review(world: Any) -> ComplianceReview:
    found = ComplianceReview.objects.filter(partner=world.partner).first()
    if found is not None:
        return found
    policy = ComplianceSettings.for_tenant(world.tenant)
    review = compliance.open_review(
        world.partner, opens_on=world.tenant.local_today(), policy=policy
    )
    assert review is not None
    admin = world[Role.PARTNER_ADMIN]
    compliance.upload_answer(review, _item(world), _pdf(), by=admin)
    return compliance.upload_tax_document(review, _pdf(), by=admin)


def settings_row(world: Any) -> ComplianceSettings:
    with world.scope():
        return ComplianceSettings.for_tenant(world.tenant)


def item(world: Any) -> ComplianceItem:
    with world.scope():
        return _item(world)


def review(world: Any) -> ComplianceReview:
    with world.scope():
        return _review(world)


def review_id(world: Any) -> list[Any]:
    return [review(world).pk]


def review_item(world: Any) -> list[Any]:
    with world.scope():
        return [_review(world).pk, _item(world).pk]


def answer_id(world: Any) -> list[Any]:
    with world.scope():
        return [ComplianceAnswer.objects.get(review=_review(world)).pk]


PARTNER_ADMIN = {Role.PARTNER_ADMIN}
PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "program:compliance": {"allowed": PARTNER_ROLES},
    "program:compliance_answer": {"allowed": PARTNER_ADMIN, "method": "post", "args": review_item},
    "program:compliance_tax": {"allowed": PARTNER_ADMIN, "method": "post", "args": review_id},
    "program:compliance_submit": {"allowed": PARTNER_ADMIN, "method": "post", "args": review_id},
    "program:compliance_tax_file": {"allowed": ALL_ROLES, "args": review_id},
    "program:compliance_answer_file": {"allowed": ALL_ROLES, "args": answer_id},
}
ADMIN_OBJECTS = {
    "program.compliancesettings": settings_row,
    "program.complianceitem": item,
    "program.compliancereview": review,
}
# Settings are one row per tenant; reviews are opened by the daily round.
ADMIN_NOBODY = {
    ("program.compliancesettings", "add"),
    ("program.compliancesettings", "delete"),
}
