"""The partner training pages' part of the URL-matrix test
(tests/test_url_matrix.py), merged into ``onboarding/url_matrix.py``;
loaded by the tests only. The world's partner user reported a course with
its certificate (through the service); the factory returns the same record
when called again for the same tenant."""

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from prm.tenancy.roles import PARTNER_ROLES, Role

from . import training
from .models import Course, TrainingRecord

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CODE = "matrix-101"


def _record(world: Any) -> TrainingRecord:
    found = TrainingRecord.objects.filter(course__code=CODE).first()
    if found is not None:
        return found
    course = Course.objects.create(tenant=world.tenant, code=CODE, title="Matrix basics")
    person = world[Role.PARTNER_USER]
    return training.report(
        person=person,
        achievement=course,
        completed_on=world.tenant.local_today(),
        by=person,
        certificate=SimpleUploadedFile("cert.pdf", PDF, content_type="application/pdf"),
    )


def record(world: Any) -> list[Any]:
    with world.scope():
        return [_record(world).pk]


PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "onboarding:training": {"allowed": PARTNER_ROLES},
    "onboarding:training_report": {"allowed": PARTNER_ROLES},
    "onboarding:training_certificate": {"allowed": PARTNER_ROLES, "args": record},
}
