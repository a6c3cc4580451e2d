"""Training through the API: the catalogue, people's records (partners
their own organisation's), the import of a learning system's records (the
admin CSV import's checks, all or nothing) and certification.earned."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboarding import training
from onboarding.models import TrainingRecord
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role
from tests import factories
from tests.onboarding import builders_training as b

from .hooks_onboarding import sent, subscribe

pytestmark = pytest.mark.django_db

RECORDS = "/api/v1/training-records/"
IMPORT = "/api/v1/training-records/import/"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def catalogue(acme):
    with acme.scope():
        course = b.course(acme, code="SF-101")
        cert = b.certification(acme, code="ce", years=2, courses=[course])
        retired = b.course(acme, code="old-1", title="Retired", is_active=False)
        return course, cert, retired


@pytest.fixture
def outsider(acme):
    """A person of the world's other partner."""
    with acme.scope():
        return factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="ann@two.test"
        )


def day(world, days_ago=1) -> str:
    return str(world.tenant.local_today() - dt.timedelta(days=days_ago))


def count(world) -> int:
    with world.scope():
        return TrainingRecord.objects.count()


def test_the_catalogue_partners_see_what_is_offered(acme, api, catalogue):
    course, cert, retired = catalogue
    staff = api(acme, Role.FINANCE)
    assert {c["code"] for c in staff.get("/api/v1/courses/").json()["results"]} == {
        "SF-101",
        "old-1",
    }
    assert [
        c["code"] for c in staff.get("/api/v1/courses/", {"is_active": "false"}).json()["results"]
    ] == ["old-1"]
    partner = api(acme, Role.PARTNER_USER)
    assert [c["code"] for c in partner.get("/api/v1/courses/").json()["results"]] == ["SF-101"]
    assert partner.get(f"/api/v1/courses/{retired.pk}/").status_code == 404
    got = partner.get(f"/api/v1/certifications/{cert.pk}/").json()
    assert got["validity_years"] == 2
    assert got["courses"] == [{"id": str(course.pk), "code": "SF-101", "title": course.title}]


def test_records_partners_read_their_own_organisations(acme, api, catalogue, outsider):
    course, cert, _ = catalogue
    with acme.scope():
        mine = b.earned(acme, cert)
        colleague = b.earned(acme, course, person=acme[Role.PARTNER_ADMIN])
        theirs = b.earned(acme, cert, person=outsider)
    partner = api(acme, Role.PARTNER_USER)
    listed = partner.get(RECORDS).json()["results"]
    assert {r["id"] for r in listed} == {str(mine.pk), str(colleague.pk)}
    assert partner.get(f"{RECORDS}{theirs.pk}/").status_code == 404
    body = partner.get(f"{RECORDS}{mine.pk}/").json()
    assert body["kind"] == "certification" and body["certification"]["code"] == "ce"
    assert body["person"]["email"] == "partner.user@acme.test"
    assert body["expires_on"] == str(mine.expires_on) and body["status"] == "confirmed"
    staff = api(acme, Role.CHANNEL_MANAGER)
    assert len(staff.get(RECORDS).json()["results"]) == 3
    certs = staff.get(RECORDS, {"kind": "certification", "partner": str(acme.partner.pk)})
    assert [r["id"] for r in certs.json()["results"]] == [str(mine.pk)]
    valid = staff.get(RECORDS, {"valid_on": str(mine.expires_on)}).json()["results"]
    assert str(mine.pk) not in {r["id"] for r in valid}  # it stops counting that day
    assert len(valid) == 1  # the course does not expire
    assert staff.get(RECORDS, {"valid_on": "tomorrow"}).status_code == 422


def test_import_records_all_rows_and_announces_certifications(acme, api, catalogue):
    subscribe(acme, "certification.earned")
    client = api(acme, Role.OPS_ADMIN)
    rows = [
        {
            "email": "Partner.User@ACME.test",
            "course_or_certification_code": "sf-101",
            "completed_on": day(acme),
            "score": 87.5,
        },
        {
            "email": "partner.admin@acme.test",
            "course_or_certification_code": "CE",
            "completed_on": day(acme, 3),
            "certificate_id": "CE-77",
        },
    ]
    dry = client.post(IMPORT, {"rows": rows, "dry_run": True})
    assert dry.status_code == 200, dry.content
    assert dry.json() == {"dry_run": True, "rows": 2, "created": 0, "records": []}
    assert count(acme) == 0
    first = client.post(IMPORT, {"rows": rows}, **{"Idempotency-Key": "lms-2026-11"})
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["created"] == 2 and len(body["records"]) == 2
    course_row, cert_row = body["records"]
    assert course_row["score"] == "87.5" and course_row["source"] == "import"
    assert cert_row["certificate_id"] == "CE-77" and cert_row["status"] == "confirmed"
    again = client.post(IMPORT, {"rows": rows}, **{"Idempotency-Key": "lms-2026-11"})
    assert again.status_code == 201 and again.json() == body
    assert count(acme) == 2
    [event] = sent(acme, "certification.earned")  # the course is no certification
    assert event.data == client.get(f"{RECORDS}{cert_row['id']}/").json() == cert_row
    with acme.scope():
        audit = AuditEntry.objects.get(action="onboarding.training_imported")
        assert audit.data == {"rows": 2, "via": "api"}
    # The same batch again: every row is recorded already, nothing changes.
    repeat = client.post(IMPORT, {"rows": rows})
    assert repeat.status_code == 422
    fields = {e["field"] for e in repeat.json()["errors"]}
    assert fields == {"rows.0.non_field_errors", "rows.1.non_field_errors"}
    assert count(acme) == 2
    assert len(sent(acme, "certification.earned")) == 1


def test_any_bad_row_refuses_the_batch_with_row_errors(acme, api, catalogue, outsider):
    subscribe(acme, "certification.earned")
    client = api(acme, Role.OPS_ADMIN)
    good = {
        "email": "partner.user@acme.test",
        "course_or_certification_code": "ce",
        "completed_on": day(acme),
    }
    rows = [
        good,
        {**good, "email": "nobody@acme.test"},
        {**good, "completed_on": "14/10/2026", "course_or_certification_code": "old-1"},
        {**good, "email": "ops.admin@acme.test", "score": "very good"},
        good,
        {**good, "email": outsider.user.email, "colour": "blue"},
        {"email": "partner.user@acme.test"},
    ]
    response = client.post(IMPORT, {"rows": rows})
    assert response.status_code == 422, response.content
    errors = {}
    for error in response.json()["errors"]:
        errors.setdefault(error["field"], []).append(error["message"])
    assert set(errors) == {
        "rows.1.email",
        "rows.2.completed_on",
        "rows.2.course_or_certification_code",
        "rows.3.email",
        "rows.3.score",
        "rows.4.non_field_errors",
        "rows.5.non_field_errors",
        "rows.6.course_or_certification_code",
        "rows.6.completed_on",
    }
    assert "nobody at a partner" in errors["rows.1.email"][0]
    assert "YYYY-MM-DD" in errors["rows.2.completed_on"][0]
    assert "vendor's staff" in errors["rows.3.email"][0]
    assert errors["rows.4.non_field_errors"] == [
        "The same record is already in this batch, at rows.0."
    ]
    assert "colour" in errors["rows.5.non_field_errors"][0]
    assert count(acme) == 0
    assert sent(acme, "certification.earned") == []
    shapeless = client.post(IMPORT, {"rows": [{"email": ["a"]}, "x"], "dry_run": "maybe"})
    assert shapeless.status_code == 422
    assert {e["field"] for e in shapeless.json()["errors"]} == {
        "rows.0.email",
        "rows.1",
        "dry_run",
    }
    assert client.post(IMPORT, {"rows": []}).status_code == 422
    assert count(acme) == 0


def test_only_ops_import(acme, api, catalogue):
    row = {"email": "partner.user@acme.test", "course_or_certification_code": "ce"}
    for role in (Role.CHANNEL_MANAGER, Role.EXECUTIVE, Role.PARTNER_ADMIN):
        response = api(acme, role).post(IMPORT, {"rows": [{**row, "completed_on": day(acme)}]})
        assert response.status_code == 403, role
    read_only = api(acme, Role.OPS_ADMIN, ["training:read"])
    refused = read_only.post(IMPORT, {"rows": [{**row, "completed_on": day(acme)}]})
    assert refused.status_code == 403 and "training:write" in refused.json()["detail"]
    assert count(acme) == 0


def test_a_confirmed_report_sends_certification_earned_a_rejected_one_nothing(acme, catalogue):
    subscribe(acme, "certification.earned")
    _, cert, _ = catalogue
    person = acme[Role.PARTNER_USER]
    with acme.scope():
        reports = [
            training.report(
                person=person,
                achievement=cert,
                completed_on=acme.tenant.local_today() - dt.timedelta(days=days),
                by=person,
                certificate=SimpleUploadedFile("c.pdf", PDF, content_type="application/pdf"),
            )
            for days in (2, 5)
        ]
    assert sent(acme, "certification.earned") == []  # reported: not earned yet
    with acme.scope():
        training.reject(reports[1], by=acme[Role.CHANNEL_MANAGER], reason="Not readable")
        assert sent(acme, "certification.earned") == []
        confirmed = training.confirm(reports[0], by=acme[Role.CHANNEL_MANAGER])
    [event] = sent(acme, "certification.earned")
    assert event.data["id"] == str(confirmed.pk)
    assert event.data["status"] == "confirmed" and event.data["has_certificate"] is True


def test_the_records_list_is_constant_in_queries(
    acme, api, catalogue, outsider, django_assert_max_num_queries
):
    course, cert, _ = catalogue
    with acme.scope():
        b.earned(acme, cert)
        b.earned(acme, course)
    client = api(acme, Role.OPS_ADMIN)
    with django_assert_max_num_queries(12) as few:
        assert len(client.get(RECORDS).json()["results"]) == 2
    with acme.scope():
        b.earned(acme, cert, person=outsider)
        b.earned(acme, course, person=acme[Role.PARTNER_ADMIN])
        b.earned(acme, cert, person=acme[Role.PARTNER_ADMIN])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(RECORDS).json()["results"]) == 5


def test_a_batch_reads_the_endpoints_once_and_announces_each_certification(
    acme, api, catalogue, outsider
):
    subscribe(acme, "certification.earned")
    people = ["partner.user@acme.test", "partner.admin@acme.test", outsider.user.email]
    rows = [
        {"email": email, "course_or_certification_code": "ce", "completed_on": day(acme)}
        for email in people
    ]
    client = api(acme, Role.OPS_ADMIN)
    with CaptureQueriesContext(connection) as queries:
        assert client.post(IMPORT, {"rows": rows}).status_code == 201
    endpoint_reads = [
        q["sql"] for q in queries.captured_queries if 'FROM "webhooks_webhookendpoint"' in q["sql"]
    ]
    assert len(endpoint_reads) == 1
    events = sent(acme, "certification.earned")
    assert sorted(e.data["person"]["email"] for e in events) == sorted(people)
