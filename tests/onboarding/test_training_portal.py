"""The partner portal's training pages: the team's certifications (expired,
expiring soon, pending and rejected reports), the catalogue, reporting a
course or certification with its certificate (and its refusals, a double
submit), downloading a certificate, the home card and the menu entry; who
may do what, another partner's and tenant's records (404), the queries a
page runs, escaping and the phone layout."""

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from onboarding import training
from onboarding.models import Function, TrainingRecord
from onboarding.portal_training import CARDS, NAV, partner_counts
from onboarding.url_matrix import PORTAL_ROUTES
from prm.tenancy.roles import PARTNER_ROLES, Role
from tests import factories

from . import builders_training as b

pytestmark = pytest.mark.django_db
PAGE = "/onboarding/training/"
REPORT = "/onboarding/training/report/"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NOW = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def pdf(name="cert.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def days(n):
    return dt.date(2026, 6, 15) + dt.timedelta(days=n)


@pytest.fixture
def catalogue(acme):
    with acme.scope():
        course = b.course(acme, url="https://learn.example.test/sf-101", hours=4)
        cert = b.certification(
            acme,
            courses=[course],
            exam="CE-100 exam",
            functions=[Function.TECHNICAL, Function.PRESALES],
        )
    return course, cert


def reported(world, achievement, *, person=None, by=None, on=None):
    with world.scope():
        person = person or world[Role.PARTNER_USER]
        return training.report(
            person=person,
            achievement=achievement,
            completed_on=on or days(-3),
            by=by or person,
            certificate=pdf(),
        )


# --- The team page ----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_partner_members_see_the_whole_team(acme, catalogue, role):
    course, cert = catalogue
    with acme.scope():
        b.earned(acme, cert, person=acme[Role.PARTNER_ADMIN], on=days(-100))
        b.earned(acme, course, on=days(-5))
    response = acme.client(role).get(PAGE)
    assert response.status_code == 200
    rows = {r.person.pk: r for r in response.context["rows"]}
    assert set(rows) == {acme[Role.PARTNER_ADMIN].pk, acme[Role.PARTNER_USER].pk}
    admin_row = rows[acme[Role.PARTNER_ADMIN].pk]
    assert [c.record.certification for c in admin_row.certifications] == [cert]
    assert admin_row.certifications[0].state == "valid"
    assert [r.course for r in rows[acme[Role.PARTNER_USER].pk].courses] == [course]
    page = response.content.decode()
    assert "Certified Engineer" in page and "Sales Foundations" in page
    assert "valid until" in page


@pytest.mark.parametrize("role", [Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.EXECUTIVE])
def test_staff_use_the_admin_not_the_portal_pages(acme, catalogue, role):
    client = acme.client(role)
    assert client.get(PAGE).status_code == 403
    assert client.get(REPORT).status_code == 403


def test_anonymous_people_are_sent_to_log_in(acme):
    response = acme.client().get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]


def test_expired_and_expiring_certifications_are_flagged(acme, catalogue):
    _, cert = catalogue  # valid for 2 years
    with acme.scope():
        other = b.certification(acme, code="sx", name="Sales Expert", years=1)
        # Earned 2 years less 30 days ago: expires in 30 days.
        b.earned(acme, cert, person=acme[Role.PARTNER_USER], on=dt.date(2024, 7, 15))
        # Earned a year and a day ago: expired yesterday.
        b.earned(acme, other, person=acme[Role.PARTNER_ADMIN], on=dt.date(2025, 6, 14))
    response = acme.client(Role.PARTNER_ADMIN).get(PAGE)
    expiring = list(response.context["expiring"])
    assert [(r.certification, r.expires_on) for r in expiring] == [(cert, dt.date(2026, 7, 15))]
    page = response.content.decode()
    assert 'data-testid="cert-soon"' in page and 'data-testid="cert-expired"' in page
    assert "Expired" in page
    section = page.split('id="expiring"', 1)[1].split("</section>")[0]
    assert "Certified Engineer" in section and "Sales Expert" not in section


def test_a_certification_earned_again_is_not_expiring(acme, catalogue):
    _, cert = catalogue
    with acme.scope():
        b.earned(acme, cert, on=dt.date(2024, 7, 15))
        b.earned(acme, cert, on=days(-2))
    response = acme.client(Role.PARTNER_USER).get(PAGE)
    assert list(response.context["expiring"]) == []
    row = next(r for r in response.context["rows"] if r.person == acme[Role.PARTNER_USER])
    assert [c.record.completed_on for c in row.certifications] == [days(-2)]
    with acme.scope():
        texts = [c.text for c in partner_counts(acme[Role.PARTNER_USER])]
    assert texts == ["1 certified person"]


def test_pending_and_rejected_reports_show_with_the_reason(acme, catalogue):
    course, cert = catalogue
    pending = reported(acme, cert)
    rejected = reported(acme, course)
    with acme.scope():
        training.reject(rejected, by=acme[Role.OPS_ADMIN], reason="Certificate <b>unreadable</b>")
    response = acme.client(Role.PARTNER_ADMIN).get(PAGE)
    page = response.content.decode()
    assert page.count('data-testid="pending"') == 1
    assert "Waiting for the vendor" in page
    assert reverse("onboarding:training_certificate", args=[pending.pk]) in page
    assert "Certificate &lt;b&gt;unreadable&lt;/b&gt;" in page
    assert "<b>unreadable</b>" not in page


def test_the_catalogue_lists_what_each_certification_needs(acme, catalogue):
    with acme.scope():
        b.course(acme, code="old", title="Retired course", is_active=False)
        b.certification(acme, code="gone", name="Retired certification", is_active=False)
    page = acme.client(Role.PARTNER_USER).get(PAGE).content.decode()
    catalogue_part = page.split('id="catalogue"')[1]
    assert "CE-100 exam" in catalogue_part and "2 years" in catalogue_part
    assert "Technical / delivery engineering, Pre-sales engineering" in catalogue_part
    assert "Retired" not in catalogue_part
    assert (
        '<a href="https://learn.example.test/sf-101" target="_blank" '
        'rel="noopener noreferrer">' in catalogue_part
    )


def test_typed_text_is_escaped(acme):
    with acme.scope():
        course = b.course(acme, title="<script>alert(1)</script>", description="<i>x</i>")
        b.certification(acme, code="x", name="<b>Cert</b>", exam="<u>exam</u>")
        acme[Role.PARTNER_USER].user.full_name = "<em>Eve</em>"
        acme[Role.PARTNER_USER].user.save()
        b.earned(acme, course)
    page = acme.client(Role.PARTNER_ADMIN).get(PAGE).content.decode()
    for raw in ("<script>alert(1)</script>", "<i>x</i>", "<b>Cert</b>", "<u>exam</u>", "<em>Eve"):
        assert raw not in page
    assert "&lt;script&gt;" in page and "&lt;em&gt;Eve&lt;/em&gt;" in page


def test_another_partners_people_and_inactive_people_are_not_listed(acme, catalogue):
    _, cert = catalogue
    with acme.scope():
        stranger = factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.other_partner)
        b.earned(acme, cert, person=stranger, on=dt.date(2024, 7, 15))
        gone = factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.partner)
        b.earned(acme, cert, person=gone, on=dt.date(2024, 7, 15))
        gone.is_active = False
        gone.save()
    response = acme.client(Role.PARTNER_USER).get(PAGE)
    people = {r.person.pk for r in response.context["rows"]}
    assert people == {acme[Role.PARTNER_ADMIN].pk, acme[Role.PARTNER_USER].pk}
    assert list(response.context["expiring"]) == []


def test_the_page_runs_a_constant_number_of_queries(acme, catalogue, django_assert_max_num_queries):
    course, cert = catalogue

    def team_of(n):
        with acme.scope():
            while TrainingRecord.objects.values("membership").distinct().count() < n:
                person = factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.partner)
                b.earned(acme, cert, person=person, on=dt.date(2024, 7, 20))
                b.earned(acme, course, person=person)
                reported(acme, course, person=person, on=days(-10))

    team_of(2)
    client = acme.client(Role.PARTNER_USER)
    client.get(PAGE)  # warm the session
    with django_assert_max_num_queries(20) as small:
        response = client.get(PAGE)
    assert len(response.context["rows"]) == 4  # 2 reported + the admin and the user
    team_of(10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(PAGE)
    assert len(response.context["rows"]) == 12
    assert len(list(response.context["expiring"])) == 10


def test_the_team_list_paginates(acme, catalogue):
    with acme.scope():
        for _ in range(26):
            factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.partner)
    client = acme.client(Role.PARTNER_USER)
    first = client.get(PAGE)
    assert len(first.context["rows"]) == 25 and 'rel="next"' in first.content.decode()
    assert len(client.get(PAGE + "?page=2").context["rows"]) == 3


def test_tables_stack_on_a_phone(acme, catalogue):
    _, cert = catalogue
    with acme.scope():
        b.earned(acme, cert, on=dt.date(2024, 7, 15))
    page = acme.client(Role.PARTNER_USER).get(PAGE).content.decode()
    for testid in ("expiring", "team", "certifications", "courses"):
        assert f'<table class="table table-stack" data-testid="{testid}">' in page
    assert page.count('<div class="table-scroll">') == 4
    assert 'data-label="Person" class="stack-head"' in page
    assert 'data-label="Expires"' in page and 'data-label="Certifications"' in page


# --- Reporting -------------------------------------------------------------------------


def form_data(what, **extra):
    kind = "course" if hasattr(what, "title") else "cert"
    data = {
        "achievement": f"{kind}:{what.pk}",
        "completed_on": "2026-06-01",
        "certificate_id": " CE-42 ",
        "score": "91.5",
        "document": pdf(),
    }
    data.update(extra)
    return data


def test_a_partner_user_reports_their_own_certification(acme, catalogue):
    _, cert = catalogue
    client = acme.client(Role.PARTNER_USER)
    form = client.get(REPORT).context["form"]
    assert "person" not in form.fields
    response = client.post(REPORT, form_data(cert))
    assert response.status_code == 302 and response["Location"] == PAGE
    with acme.scope():
        row = TrainingRecord.objects.get()
        assert row.membership == acme[Role.PARTNER_USER]
        assert row.status == TrainingRecord.Status.PENDING
        assert row.certificate_id == "CE-42" and str(row.score) == "91.5"
        assert row.expires_on == dt.date(2028, 6, 1)
    page = client.get(PAGE).content.decode()
    assert "the vendor confirms it" in page


def test_a_partner_user_cannot_report_for_a_colleague(acme, catalogue):
    _, cert = catalogue
    response = acme.client(Role.PARTNER_USER).post(
        REPORT, form_data(cert, person=str(acme[Role.PARTNER_ADMIN].pk))
    )
    assert response.status_code == 302  # the person field is not theirs: they report for self
    with acme.scope():
        assert TrainingRecord.objects.get().membership == acme[Role.PARTNER_USER]


def test_a_partner_admin_reports_for_a_colleague_not_a_stranger(acme, catalogue):
    course, _ = catalogue
    with acme.scope():
        stranger = factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.other_partner)
    client = acme.client(Role.PARTNER_ADMIN)
    people = list(client.get(REPORT).context["form"].fields["person"].queryset)
    assert set(people) == {acme[Role.PARTNER_ADMIN], acme[Role.PARTNER_USER]}
    refused = client.post(REPORT, form_data(course, person=str(stranger.pk)))
    assert refused.status_code == 400
    assert "active colleague" in refused.context["form"].errors["person"][0]
    ok = client.post(REPORT, form_data(course, person=str(acme[Role.PARTNER_USER].pk)))
    assert ok.status_code == 302
    with acme.scope():
        row = TrainingRecord.objects.get()
        assert row.membership == acme[Role.PARTNER_USER]
        assert row.recorded_by == acme[Role.PARTNER_ADMIN].user


def test_a_double_submit_creates_one_record(acme, catalogue):
    _, cert = catalogue
    client = acme.client(Role.PARTNER_USER)
    assert client.post(REPORT, form_data(cert)).status_code == 302
    again = client.post(REPORT, form_data(cert))
    assert again.status_code == 400
    assert (
        "already has Certified Engineer recorded on"
        in again.context["form"].errors["completed_on"][0]
    )
    with acme.scope():
        assert TrainingRecord.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"completed_on": "2026-06-16"}, "completed_on", "cannot be in the future"),
        ({"completed_on": "soon"}, "completed_on", "Give a date"),
        ({"document": None}, "document", "Attach the certificate"),
        (
            {"document": SimpleUploadedFile("x.pdf", b"MZ\x90\x00 not a pdf")},
            "document",
            "",
        ),
        ({"achievement": "cert:00000000-0000-0000-0000-000000000000"}, "achievement", "offers"),
        ({"score": "-1"}, "score", ""),
    ],
)
def test_bad_reports_are_refused_on_their_field(acme, catalogue, change, field, message):
    _, cert = catalogue
    data = form_data(cert, **change)
    data = {k: v for k, v in data.items() if v is not None}
    response = acme.client(Role.PARTNER_USER).post(REPORT, data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in errors[field][0]
    assert 'class="error" role="alert"' in response.content.decode()
    with acme.scope():
        assert not TrainingRecord.objects.exists()


def test_a_retired_course_cannot_be_reported(acme, catalogue):
    course, _ = catalogue
    with acme.scope():
        course.is_active = False
        course.save()
    response = acme.client(Role.PARTNER_USER).post(REPORT, form_data(course))
    assert response.status_code == 400 and "achievement" in response.context["form"].errors


def test_another_tenants_course_cannot_be_reported(acme, globex, catalogue):
    with globex.scope():
        foreign = b.course(globex, code="gx")
    response = acme.client(Role.PARTNER_USER).post(REPORT, form_data(foreign))
    assert response.status_code == 400 and "achievement" in response.context["form"].errors
    with acme.scope():
        assert not TrainingRecord.objects.exists()


# --- The certificate -------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_the_partners_people_download_a_certificate(acme, catalogue, role):
    row = reported(acme, catalogue[1])
    response = acme.client(role).get(reverse("onboarding:training_certificate", args=[row.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_another_partners_or_tenants_certificate_is_404(acme, globex, catalogue):
    row = reported(acme, catalogue[1])
    url = reverse("onboarding:training_certificate", args=[row.pk])
    with acme.scope():
        outsider = factories.make_member(
            acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner
        )
    acme.members["outsider"] = outsider
    assert acme.client("outsider").get(url).status_code == 404
    assert globex.client(Role.PARTNER_ADMIN).get(url).status_code == 404
    assert acme.client(Role.OPS_ADMIN).get(url).status_code == 403
    missing = reverse(
        "onboarding:training_certificate", args=["00000000-0000-0000-0000-000000000000"]
    )
    assert acme.client(Role.PARTNER_USER).get(missing).status_code == 404


def test_a_record_without_a_certificate_is_404(acme, catalogue):
    with acme.scope():
        row = b.earned(acme, catalogue[1])
    url = reverse("onboarding:training_certificate", args=[row.pk])
    assert acme.client(Role.PARTNER_USER).get(url).status_code == 404


# --- Menu, card, URL matrix ------------------------------------------------------------


def test_the_menu_entry_sits_between_deals_and_statements(acme):
    (entry,) = NAV
    assert entry.url_name == "onboarding:training" and 100 < entry.order < 200
    page = acme.client(Role.PARTNER_USER).get("/").content.decode()
    assert f'href="{PAGE}"' in page
    assert f'href="{PAGE}"' not in acme.client(Role.OPS_ADMIN).get("/").content.decode()


def test_the_home_card_counts(acme, catalogue, django_assert_max_num_queries):
    course, cert = catalogue
    with acme.scope():
        b.earned(acme, cert, person=acme[Role.PARTNER_ADMIN], on=dt.date(2024, 7, 15))
        b.earned(acme, cert, person=acme[Role.PARTNER_USER], on=days(-1))
    reported(acme, course)
    with acme.scope(), django_assert_max_num_queries(1):
        counts = partner_counts(acme[Role.PARTNER_USER])
    assert [(c.text, c.urgent) for c in counts] == [
        ("1 certification expiring within 60 days", True),
        ("1 report waiting for the vendor", False),
        ("2 certified people", False),
    ]
    assert counts[0].url == PAGE + "#expiring"
    assert [card.url_name for card in CARDS] == ["onboarding:training"]
    page = acme.client(Role.PARTNER_ADMIN).get("/").content.decode()
    assert "1 certification expiring within 60 days" in page


def test_the_card_is_empty_for_a_new_partner(acme):
    with acme.scope():
        assert partner_counts(acme[Role.PARTNER_ADMIN]) == []


def test_the_url_matrix_lists_the_training_pages():
    for name in ("onboarding:training", "onboarding:training_report"):
        assert PORTAL_ROUTES[name]["allowed"] == PARTNER_ROLES
    assert PORTAL_ROUTES["onboarding:training_certificate"]["args"] is not None
