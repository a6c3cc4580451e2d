"""Importing a learning system's CSV export of training records: the dry run
and its per-row errors, all or nothing, the records it writes (confirmed,
source import, the plan's training step ticked) and who may import."""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from onboarding import training, training_import
from onboarding.models import Owner, Plan, StepKind, TrainingRecord
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role

from . import builders_plans as plan_b
from . import builders_training as b

pytestmark = pytest.mark.django_db
IMPORT = "/admin/onboarding/trainingrecord/import/"
HEADER = "email,course_or_certification_code,completed_on,score,certificate_id\n"


@pytest.fixture
def catalogue(acme):
    with acme.scope():
        course = b.course(acme, code="SF-101")
        cert = b.certification(acme, code="ce", years=2, courses=[course])
        b.course(acme, code="old-1", title="Retired", is_active=False)
        return course, cert


def yesterday(world) -> str:
    return str(world.tenant.local_today() - dt.timedelta(days=1))


def check(world, text):
    with world.scope():
        return training_import.parse_training_csv(world.tenant, text)


def errors_by_line(result):
    return {row.line: " ".join(row.errors) for row in result.rows if row.errors}


def test_a_clean_file_checks_without_writing(acme, catalogue):
    day = yesterday(acme)
    text = HEADER + (
        f"Partner.User@ACME.test,sf-101,{day},87.5,\npartner.admin@acme.test,CE,{day},,CE-77\n"
    )
    result = check(acme, text)
    assert result.ok, (result.errors, errors_by_line(result))
    first, second = result.rows
    assert first.person == acme[Role.PARTNER_USER] and first.achievement == catalogue[0]
    assert str(first.score) == "87.5"
    assert second.achievement == catalogue[1] and second.certificate_id == "CE-77"
    with acme.scope():
        assert not TrainingRecord.objects.exists()


def test_each_row_names_its_problem_with_its_line(acme, globex, catalogue):
    with acme.scope():
        b.earned(acme, catalogue[1], on=dt.date(2025, 3, 1))
    day = yesterday(acme)
    future = str(acme.tenant.local_today() + dt.timedelta(days=1))
    text = HEADER + (
        f"nobody@acme.test,sf-101,{day},,\n"  # 2 unknown
        f"partner.user@globex.test,sf-101,{day},,\n"  # 3 another tenant's person
        f"ops.admin@acme.test,sf-101,{day},,\n"  # 4 staff
        f"partner.user@acme.test,XX-9,{day},,\n"  # 5 unknown code
        f"partner.user@acme.test,old-1,{day},,\n"  # 6 inactive course
        "partner.user@acme.test,sf-101,03/01/2025,,\n"  # 7 bad date
        "partner.user@acme.test,sf-101,2025-02-30,,\n"  # 8 no such day
        f"partner.user@acme.test,sf-101,{future},,\n"  # 9 future
        f"partner.admin@acme.test,sf-101,{day},,\n"  # 10 fine
        f"PARTNER.ADMIN@acme.test,SF-101,{day},,\n"  # 11 same as line 10
        "partner.user@acme.test,ce,2025-03-01,,\n"  # 12 already recorded
        f"partner.admin@acme.test,ce,{day},lots,\n"  # 13 bad score
    )
    result = check(acme, text)
    found = errors_by_line(result)
    assert set(found) == {2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13}
    assert "nobody at a partner" in found[2]
    assert "nobody at a partner" in found[3]  # another tenant's people are nobody here
    assert "vendor's staff" in found[4]
    assert "“XX-9” is no active course" in found[5] and "no active" in found[6]
    assert "YYYY-MM-DD" in found[7] and "YYYY-MM-DD" in found[8]
    assert "in the future" in found[9]
    assert "already on line 10" in found[11]
    assert "already has Certified Engineer" in found[12] and "it is recorded" in found[12]
    assert "not a score" in found[13]
    assert not result.ok and result.created == 0


def test_file_level_problems(acme, catalogue):
    missing = check(acme, "email,course_or_certification_code\n").errors
    assert "Missing column: completed_on" in missing[0]
    unknown = check(acme, HEADER.strip() + ",grade\n").errors
    assert any("Unknown column: grade" in e for e in unknown)
    assert check(acme, HEADER).errors == ["The file has a header but no rows."]
    assert check(acme, "").errors == ["The file is empty."]


def test_a_pending_report_blocks_the_same_row(acme, catalogue):
    person = acme[Role.PARTNER_USER]
    with acme.scope():
        training.report(
            person=person,
            achievement=catalogue[0],
            completed_on=dt.date(2025, 5, 2),
            by=person,
            certificate=plan_b.pdf(),
        )
    result = check(acme, HEADER + "partner.user@acme.test,sf-101,2025-05-02,,\n")
    assert "waits for confirmation" in errors_by_line(result)[2]


def upload(client, text, name="export.csv"):
    return client.post(IMPORT, {"file": SimpleUploadedFile(name, text.encode(), "text/csv")})


def test_the_dry_run_page_shows_errors_and_offers_no_import(acme, catalogue):
    client = acme.client(Role.OPS_ADMIN)
    assert client.get(IMPORT).status_code == 200
    response = upload(client, HEADER + f"nobody@acme.test,sf-101,{yesterday(acme)},,\n")
    body = response.content.decode()
    assert response.status_code == 200 and "nobody at a partner" in body
    assert "1 row has problems" in body and 'name="token"' not in body
    with acme.scope():
        assert not TrainingRecord.objects.exists()


def test_import_writes_every_row_confirmed_and_ticks_the_plan(acme, catalogue):
    with acme.scope():
        template = plan_b.template(
            acme,
            [
                plan_b.step(
                    StepKind.TRAINING,
                    "Sales Foundations",
                    owner=Owner.PARTNER,
                    course_code="SF-101",
                )
            ],
        )
        plan = plan_b.start(acme, template)
    day = yesterday(acme)
    client = acme.client(Role.OPS_ADMIN)
    preview = upload(
        client,
        HEADER
        + f"partner.user@acme.test,sf-101,{day},90,\npartner.admin@acme.test,ce,{day},,C-1\n",
    )
    body = preview.content.decode()
    assert "Ready to record 2 training records" in body
    token = re.search(r'name="token" value="([^"]+)"', body).group(1)
    done = client.post(IMPORT, {"token": token, "confirm": "1"})
    assert done.status_code == 302
    with acme.scope():
        rows = TrainingRecord.objects.order_by("membership__user__email")
        assert [(r.membership, r.status, r.source) for r in rows] == [
            (acme[Role.PARTNER_ADMIN], "confirmed", "import"),
            (acme[Role.PARTNER_USER], "confirmed", "import"),
        ]
        assert rows[0].expires_on is not None and rows[0].certificate_id == "C-1"
        plan.refresh_from_db()
        assert plan.status == Plan.Status.COMPLETED
        assert AuditEntry.objects.filter(action="onboarding.training_imported").count() == 1
    # The token is used up: a second confirmation imports nothing more.
    again = client.post(IMPORT, {"token": token, "confirm": "1"})
    assert again.status_code == 302
    with acme.scope():
        assert TrainingRecord.objects.count() == 2


def test_all_or_nothing_when_the_data_changed_after_the_dry_run(acme, catalogue):
    day = yesterday(acme)
    client = acme.client(Role.OPS_ADMIN)
    preview = upload(
        client,
        HEADER + f"partner.user@acme.test,sf-101,{day},,\npartner.admin@acme.test,ce,{day},,\n",
    )
    token = re.search(r'name="token" value="([^"]+)"', preview.content.decode()).group(1)
    with acme.scope():
        b.earned(
            acme,
            catalogue[1],
            person=acme[Role.PARTNER_ADMIN],
            on=acme.tenant.local_today() - dt.timedelta(days=1),
        )
    response = client.post(IMPORT, {"token": token, "confirm": "1"})
    assert response.status_code == 200
    assert "Nothing was imported" in response.content.decode()
    with acme.scope():
        assert TrainingRecord.objects.count() == 1  # the one recorded meanwhile only
        assert not TrainingRecord.objects.filter(source="import").exists()


def test_a_refused_row_inside_the_import_rolls_back_the_others(acme, catalogue, monkeypatch):
    """The check passes, then the service refuses the second row (a record
    made by a concurrent import): the first row's record is rolled back."""
    day = yesterday(acme)
    text = HEADER + f"partner.user@acme.test,sf-101,{day},,\npartner.admin@acme.test,ce,{day},,\n"
    real = training_import.parse_training_csv

    def checked_then_raced(tenant, text):
        result = real(tenant, text)
        b.earned(acme, catalogue[1], person=acme[Role.PARTNER_ADMIN], on=dt.date.fromisoformat(day))
        return result

    monkeypatch.setattr(training_import, "parse_training_csv", checked_then_raced)
    with acme.scope():
        result = training_import.import_training(acme.tenant, text, by=acme[Role.OPS_ADMIN])
        assert result.created == 0 and "Nothing was imported" in result.errors[-1]
        assert "already has" in " ".join(result.rows[1].errors)
        assert not TrainingRecord.objects.filter(source="import").exists()


@pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE])
def test_only_ops_import(acme, catalogue, role):
    client = acme.client(role)
    assert client.get(IMPORT).status_code == 403
    refused = upload(client, HEADER + f"partner.user@acme.test,sf-101,{yesterday(acme)},,\n")
    assert refused.status_code == 403
    assert "Import from CSV" not in client.get("/admin/onboarding/trainingrecord/").content.decode()
    assert (
        "Import from CSV"
        in acme.client(Role.OPS_ADMIN).get("/admin/onboarding/trainingrecord/").content.decode()
    )


def test_partners_and_other_tenants_get_nothing(acme, globex, catalogue):
    assert acme.client(Role.PARTNER_ADMIN).get(IMPORT).status_code == 403
    # Globex's ops import into Globex: acme's people are nobody there.
    with globex.scope():
        b.course(globex, code="SF-101")
    result = check(globex, HEADER + f"partner.user@acme.test,sf-101,{yesterday(globex)},,\n")
    assert "nobody at a partner" in errors_by_line(result)[2]
