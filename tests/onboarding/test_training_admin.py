"""Training in the admin: the catalogue (courses, certifications with their
courses and functions), the records list (filters, constant queries), a
record's page where ops and channel managers confirm or reject what a person
reported, the certificate download, recording by hand, deleting (ops) and
the staff home card."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from onboarding import training
from onboarding.models import Certification, Course, TrainingRecord
from onboarding.training_cards import pending_counts
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import PARTNER_ROLES, Role
from tests import factories

from . import builders_training as b

pytestmark = pytest.mark.django_db
Status = TrainingRecord.Status
RECORDS = "/admin/onboarding/trainingrecord/"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
STAFF = (Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE)
DECIDERS = (Role.OPS_ADMIN, Role.CHANNEL_MANAGER)
READERS = (Role.FINANCE, Role.EXECUTIVE)


def record_url(row):
    return reverse("tenant_admin:onboarding_trainingrecord_change", args=[row.pk])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def reported(world, achievement, *, person=None, days_ago=3):
    person = person or world[Role.PARTNER_USER]
    return training.report(
        person=person,
        achievement=achievement,
        completed_on=world.tenant.local_today() - dt.timedelta(days=days_ago),
        by=person,
        certificate=SimpleUploadedFile("my cert.pdf", PDF, content_type="application/pdf"),
    )


@pytest.fixture
def pending(acme):
    with acme.scope():
        return reported(acme, b.certification(acme))


# --- Catalogue ------------------------------------------------------------------------------


def test_ops_add_a_certification_with_its_courses_and_functions(acme, globex):
    with acme.scope():
        mine = b.course(acme)
    with globex.scope():
        theirs = b.course(globex, code="g-1", title="Globex course")
    client = acme.client(Role.OPS_ADMIN)
    page = client.get("/admin/onboarding/certification/add/")
    assert page.status_code == 200
    assert mine.title in page.content.decode() and theirs.title not in page.content.decode()
    data = {
        "code": "ce",
        "name": "Certified Engineer",
        "courses": [str(mine.pk)],
        "validity_years": "2",
        "functions": ["presales", "technical"],
        "is_active": "on",
    }
    refused = client.post("/admin/onboarding/certification/add/", {**data, "courses": [theirs.pk]})
    assert refused.status_code == 200 and "courses" in refused.context["adminform"].form.errors
    response = client.post("/admin/onboarding/certification/add/", data)
    assert response.status_code == 302
    with acme.scope():
        cert = Certification.objects.get(code="ce")
        assert list(cert.courses.all()) == [mine]
        assert cert.functions == ["presales", "technical"] and cert.validity_years == 2
        assert AuditEntry.objects.filter(action="onboarding.certification_added").exists()
    listed = client.get("/admin/onboarding/certification/?q=engineer").content.decode()
    assert "Certified Engineer" in listed and "Pre-sales engineering" in listed


@pytest.mark.parametrize("role", STAFF)
def test_staff_read_the_catalogue_only_ops_change_it(acme, role):
    with acme.scope():
        course = b.course(acme)
    client = acme.client(role)
    assert client.get("/admin/onboarding/course/?q=sf-101").status_code == 200
    response = client.post(
        reverse("tenant_admin:onboarding_course_change", args=[course.pk]),
        {"code": "sf-101", "title": "Renamed", "is_active": "on"},
    )
    with acme.scope():
        course.refresh_from_db()
    if role == Role.OPS_ADMIN:
        assert response.status_code == 302 and course.title == "Renamed"
    else:
        assert response.status_code == 403 and course.title == "Sales Foundations"


# --- Records: who may do what -------------------------------------------------------------


@pytest.mark.parametrize("role", [*STAFF, *sorted(PARTNER_ROLES)])
def test_the_records_list_and_page_by_role(acme, pending, role):
    client = acme.client(role)
    listing = client.get(RECORDS)
    page = client.get(record_url(pending))
    add = client.get(f"{RECORDS}add/")
    if role in PARTNER_ROLES:
        assert {listing.status_code, page.status_code, add.status_code} == {403}
        return
    assert listing.status_code == 200 and page.status_code == 200
    assert pending.membership.user.email in listing.content.decode()
    body = page.content.decode()
    assert "partner.user@acme.test" in body and "Certified Engineer" in body
    assert add.status_code == (200 if role in DECIDERS else 403)
    assert ('name="_action" value="confirm"' in body) == (role in DECIDERS)
    assert 'value="Save' not in body  # recorded data are never edited here


def test_another_tenants_record_and_certificate_are_404(acme, globex, pending):
    intruder = globex.client(Role.OPS_ADMIN)
    assert intruder.get(record_url(pending)).status_code == 404
    assert intruder.get(f"{record_url(pending)}?certificate=1").status_code == 404
    response = intruder.post(record_url(pending), {"_action": "confirm"})
    assert response.status_code == 404
    with acme.scope():
        pending.refresh_from_db()
        assert pending.status == Status.PENDING


@pytest.mark.parametrize("role", DECIDERS)
def test_confirm_through_the_page_once(acme, pending, role):
    client = acme.client(role)
    response = client.post(record_url(pending), {"_action": "confirm"})
    assert response.status_code == 302
    assert any("Confirmed" in m for m in messages_of(response))
    with acme.scope():
        pending.refresh_from_db()
        assert pending.status == Status.CONFIRMED
        assert pending.decided_by == acme[role].user
    again = client.post(record_url(pending), {"_action": "confirm"})
    assert again.status_code == 403 or "already confirmed" in again.content.decode()
    with acme.scope():
        assert AuditEntry.objects.filter(action="onboarding.training_confirmed").count() == 1
    # A decided record offers no form any more.
    assert 'value="confirm"' not in client.get(record_url(pending)).content.decode()


def test_reject_needs_a_reason(acme, pending):
    client = acme.client(Role.CHANNEL_MANAGER)
    blank = client.post(record_url(pending), {"_action": "reject", "reject-reason": "  "})
    assert blank.status_code == 200 and "errorlist" in blank.content.decode()
    with acme.scope():
        pending.refresh_from_db()
        assert pending.status == Status.PENDING
    response = client.post(
        record_url(pending), {"_action": "reject", "reject-reason": "The name <b>differs</b>"}
    )
    assert response.status_code == 302
    with acme.scope():
        pending.refresh_from_db()
        assert pending.status == Status.REJECTED and pending.note == "The name <b>differs</b>"
    page = client.get(record_url(pending)).content.decode()
    assert "The name &lt;b&gt;differs&lt;/b&gt;" in page and "<b>differs" not in page


@pytest.mark.parametrize("role", READERS)
def test_read_only_roles_cannot_decide(acme, pending, role):
    client = acme.client(role)
    assert client.post(record_url(pending), {"_action": "confirm"}).status_code == 403
    assert (
        client.post(record_url(pending), {"_action": "reject", "reject-reason": "x"}).status_code
        == 403
    )
    with acme.scope():
        pending.refresh_from_db()
        assert pending.status == Status.PENDING


@pytest.mark.parametrize("role", STAFF)
def test_the_certificate_is_served_to_staff_as_an_attachment(acme, pending, role):
    response = acme.client(role).get(f"{record_url(pending)}?certificate=1")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF


@pytest.mark.parametrize("role", sorted(PARTNER_ROLES))
def test_partners_and_strangers_get_no_certificate_from_the_admin(acme, pending, role):
    assert acme.client(role).get(f"{record_url(pending)}?certificate=1").status_code == 403
    anonymous = acme.client().get(f"{record_url(pending)}?certificate=1")
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]


def test_a_record_without_certificate_has_none_to_serve(acme):
    with acme.scope():
        row = b.earned(acme, b.course(acme))
    client = acme.client(Role.OPS_ADMIN)
    assert client.get(f"{record_url(row)}?certificate=1").status_code == 404
    assert "?certificate=1" not in client.get(record_url(row)).content.decode()


# --- Recording by hand ----------------------------------------------------------------------


def add_data(world, achievement, **extra):
    return {
        "person": str(world[Role.PARTNER_ADMIN].pk),
        "achievement": f"{'course' if isinstance(achievement, Course) else 'cert'}:"
        f"{achievement.pk}",
        "completed_on": str(world.tenant.local_today() - dt.timedelta(days=1)),
        "score": "91.5",
        "certificate_id": "CE-1234",
        **extra,
    }


@pytest.mark.parametrize("role", DECIDERS)
def test_staff_record_training_by_hand(acme, role):
    with acme.scope():
        cert = b.certification(acme)
    client = acme.client(role)
    page = client.get(f"{RECORDS}add/").content.decode()
    assert "partner.admin@acme.test — Acme Reseller One" in page
    assert "ops.admin@acme.test" not in page  # staff are nobody to train
    response = client.post(f"{RECORDS}add/", add_data(acme, cert))
    assert response.status_code == 302
    with acme.scope():
        row = TrainingRecord.objects.get()
        assert row.membership == acme[Role.PARTNER_ADMIN] and row.certification == cert
        assert row.status == Status.CONFIRMED and row.source == TrainingRecord.Source.STAFF
        assert row.score == 91.5 and row.certificate_id == "CE-1234"
        assert row.recorded_by == acme[role].user
    assert response["Location"] == record_url(row)


def test_recording_refusals_show_on_their_field(acme, globex):
    with acme.scope():
        cert = b.certification(acme)
    with globex.scope():
        theirs = b.course(globex)
    client = acme.client(Role.OPS_ADMIN)
    future = str(acme.tenant.local_today() + dt.timedelta(days=1))
    response = client.post(f"{RECORDS}add/", add_data(acme, cert, completed_on=future))
    assert response.status_code == 200
    assert "future" in str(response.context["form"].errors["completed_on"])
    stranger = add_data(acme, cert, person=str(globex[Role.PARTNER_USER].pk))
    assert "person" in client.post(f"{RECORDS}add/", stranger).context["form"].errors
    foreign = add_data(acme, theirs)
    assert "achievement" in client.post(f"{RECORDS}add/", foreign).context["form"].errors
    staff = add_data(acme, cert, person=str(acme[Role.FINANCE].pk))
    assert "person" in client.post(f"{RECORDS}add/", staff).context["form"].errors
    with acme.scope():
        assert not TrainingRecord.objects.exists()


@pytest.mark.parametrize("role", [*READERS, Role.PARTNER_ADMIN])
def test_read_only_roles_cannot_record(acme, role):
    with acme.scope():
        cert = b.certification(acme)
    assert acme.client(role).post(f"{RECORDS}add/", add_data(acme, cert)).status_code == 403
    with acme.scope():
        assert not TrainingRecord.objects.exists()


@pytest.mark.parametrize("role", STAFF)
def test_only_ops_delete_a_wrong_record(acme, role):
    with acme.scope():
        row = b.earned(acme, b.course(acme))
    url = reverse("tenant_admin:onboarding_trainingrecord_delete", args=[row.pk])
    response = acme.client(role).post(url, {"post": "yes"})
    with acme.scope():
        left = TrainingRecord.objects.filter(pk=row.pk).exists()
        audited = AuditEntry.objects.filter(action="onboarding.training_deleted").exists()
    if role == Role.OPS_ADMIN:
        assert response.status_code == 302 and not left and audited
    else:
        assert response.status_code == 403 and left and not audited


# --- The list ---------------------------------------------------------------------------------


def test_the_filters(acme, pending):
    today = acme.tenant.local_today()
    with acme.scope():
        course = b.course(acme)
        one_year = b.certification(acme, code="ss", name="Sales Specialist", years=1)
        soon = b.earned(acme, one_year, on=today - dt.timedelta(days=340))
        gone = b.earned(
            acme, one_year, person=acme[Role.PARTNER_ADMIN], on=today - dt.timedelta(days=400)
        )
        taken = b.earned(acme, course)
    client = acme.client(Role.FINANCE)

    def listed(query):
        rows = client.get(f"{RECORDS}?{query}").context["cl"].result_list
        return {row.pk for row in rows}

    assert listed("expiry=soon") == {soon.pk}
    assert listed("expiry=expired") == {gone.pk}
    assert listed("kind=course") == {taken.pk}
    assert listed("status__exact=pending") == {pending.pk}
    assert listed(f"partner={acme.partner.pk}") == {pending.pk, soon.pk, gone.pk, taken.pk}
    assert listed(f"partner={acme.other_partner.pk}") == set()
    assert listed("q=partner.admin") == {gone.pk}


def test_the_list_runs_a_constant_number_of_queries(acme, django_assert_max_num_queries):
    client = acme.client(Role.OPS_ADMIN)
    with acme.scope():
        course = b.course(acme)
        cert = b.certification(acme)
        b.earned(acme, course)
    client.get(RECORDS)  # warm the caches a first request fills
    with django_assert_max_num_queries(20) as few:
        assert client.get(RECORDS).status_code == 200
    with acme.scope():
        for i in range(12):
            person = factories.make_member(
                acme.tenant,
                Role.PARTNER_USER,
                partner=acme.other_partner if i % 2 else acme.partner,
            )
            b.earned(acme, cert if i % 3 else course, person=person)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(RECORDS)
    assert len(response.context["cl"].result_list) == 13


# --- The staff home card -------------------------------------------------------------------


def test_the_card_counts_what_waits_for_confirmation(acme, pending):
    with acme.scope():
        counts = pending_counts(acme[Role.CHANNEL_MANAGER])
        assert [c.text for c in counts] == ["1 reported record waiting for confirmation"]
        assert counts[0].url == f"{RECORDS}?status__exact=pending"
        training.confirm(pending, by=acme[Role.OPS_ADMIN])
        assert pending_counts(acme[Role.OPS_ADMIN]) == []
    home = acme.client(Role.CHANNEL_MANAGER).get("/").content.decode()
    assert "Training records" in home
    assert "Training records" not in acme.client(Role.FINANCE).get("/").content.decode()
