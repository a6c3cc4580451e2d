"""The training admin's part of the URL-matrix test (tests/test_url_matrix.py),
merged into ``onboarding/url_matrix.py``; loaded by the tests only. The
world gets a course, a certification made of it and a certificate reported
by its partner user (waiting for confirmation, with the uploaded PDF), built
through the services. Each factory returns the same objects when called
again for the same tenant (the matrix calls it for every route and role).

A record's certificate is served by its change page (``?certificate=1``),
covered with that page."""

import datetime as dt
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from prm.tenancy.roles import Role

from . import training
from .models import Certification, Course, TrainingRecord

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _course(world: Any) -> Course:
    found, _ = Course.objects.get_or_create(
        tenant=world.tenant, code="matrix-101", defaults={"title": "Matrix foundations"}
    )
    return found


def _certification(world: Any) -> Certification:
    found, made = Certification.objects.get_or_create(
        tenant=world.tenant, code="matrix-cert", defaults={"name": "Matrix certified"}
    )
    if made:
        found.courses.set([_course(world)])
    return found


def course(world: Any) -> Course:
    with world.scope():
        return _course(world)


def certification(world: Any) -> Certification:
    with world.scope():
        return _certification(world)


def record(world: Any) -> TrainingRecord:
    with world.scope():
        person = world[Role.PARTNER_USER]
        found = TrainingRecord.objects.filter(membership=person).first()
        if found is not None:
            return found
        return training.report(
            person=person,
            achievement=_certification(world),
            completed_on=world.tenant.local_today() - dt.timedelta(days=3),
            by=person,
            certificate=SimpleUploadedFile("cert.pdf", PDF, content_type="application/pdf"),
        )


ADMIN_OBJECTS = {
    "onboarding.course": course,
    "onboarding.certification": certification,
    "onboarding.trainingrecord": record,
}
CUSTOM_ADMIN_VIEWS = {"onboarding_trainingrecord_import": "onboarding.import_trainingrecord"}
