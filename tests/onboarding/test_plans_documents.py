"""Documents for a plan's document steps: checked like MDF proofs (the
content decides, sizes are capped) and limited to PDF, PNG and JPEG; an
upload completes its step, a replacement keeps it done; the file is served
to the partner's own people and staff only, as an attachment."""

import pytest
from django.core.files.storage import storages
from django.urls import reverse

from onboarding import plan_documents
from onboarding.errors import OnboardingError
from onboarding.models import Plan, PlanStep, StepKind
from prm.tenancy.roles import ALL_ROLES, Role
from tests import factories

from . import builders_plans as b

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc_step(acme):
    with acme.scope():
        plan = b.start(
            acme,
            b.template(
                acme,
                [
                    b.step(StepKind.DOCUMENT, "Upload your W-9", document_name="W-9"),
                    b.step(StepKind.CUSTOM, "Add your team"),
                ],
            ),
        )
        return plan.steps.get(kind=StepKind.DOCUMENT)


def upload_url(step):
    return reverse("onboarding:step_upload", args=[step.pk])


def download_url(step):
    return reverse("onboarding:step_document", args=[step.pk])


def fresh(world, step) -> PlanStep:
    with world.scope():
        return PlanStep.objects.get(pk=step.pk)


# --- The service --------------------------------------------------------------------------


def test_an_upload_completes_the_step_and_a_replacement_keeps_it_done(
    acme, doc_step, django_capture_on_commit_callbacks
):
    admin = acme[Role.PARTNER_ADMIN]
    with acme.scope():
        done = plan_documents.upload(doc_step, b.pdf("W9 2031.pdf"), by=admin)
        assert done.completed_at is not None and done.source == PlanStep.Source.AUTOMATIC
        assert (done.evidence, done.completed_by) == ("W9 2031.pdf", admin.user)
        assert (done.document_type, done.document_size) == ("application/pdf", len(b.PDF))
        assert done.document.name.endswith(".pdf") and "W9" not in done.document.name
        first_file, first_time = done.document.name, done.completed_at
        storage = storages["proofs"]
        assert storage.exists(first_file)

        with django_capture_on_commit_callbacks(execute=True):
            again = plan_documents.upload(done, b.pdf("scan.png", b.PNG), by=admin)
        assert again.completed_at == first_time  # still done, since the first upload
        assert (again.evidence, again.document_type) == ("scan.png", "image/png")
        assert again.document.name != first_file
        assert not storage.exists(first_file)  # the old file goes once this one is in
        plan = Plan.objects.get(pk=doc_step.plan_id)
        assert plan.status == Plan.Status.ACTIVE


def test_the_same_file_twice_changes_nothing(acme, doc_step):
    admin = acme[Role.PARTNER_ADMIN]
    with acme.scope():
        first = plan_documents.upload(doc_step, b.pdf(), by=admin)
        second = plan_documents.upload(first, b.pdf("again.pdf"), by=admin)
        assert second.document.name == first.document.name
        assert second.evidence == "w9.pdf"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("w9.pdf", b.HTML, "w9.pdf is not a PDF, PNG or JPEG file (its content is HTML)."),
        ("w9.csv", b.CSV, "w9.csv is not a PDF, PNG or JPEG file (its content is CSV)."),
        ("empty.pdf", b"", "empty.pdf is empty."),
    ],
)
def test_files_that_are_not_documents_are_refused(acme, doc_step, name, content, message):
    with acme.scope():
        with pytest.raises(OnboardingError) as refused:
            plan_documents.upload(doc_step, b.pdf(name, content), by=acme[Role.PARTNER_ADMIN])
        assert (str(refused.value), refused.value.field) == (message, "document")
        step = PlanStep.objects.get(pk=doc_step.pk)
        assert step.completed_at is None and not step.document


def test_a_file_over_the_size_cap_is_refused(acme, doc_step, settings):
    settings.MDF_UPLOAD_MAX_FILE_BYTES = 20
    with acme.scope(), pytest.raises(OnboardingError, match="a file may be at most 20 bytes"):
        plan_documents.upload(doc_step, b.pdf(), by=acme[Role.PARTNER_ADMIN])


def test_only_the_partners_admin_uploads(acme, doc_step):
    with acme.scope():
        other = factories.make_member(acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner)
        for member in (acme[Role.PARTNER_USER], other, acme[Role.OPS_ADMIN]):
            with pytest.raises(OnboardingError, match="Only a partner admin"):
                plan_documents.upload(doc_step, b.pdf(), by=member)
        assert not PlanStep.objects.get(pk=doc_step.pk).document


# --- The pages ----------------------------------------------------------------------------


def test_the_partner_admin_uploads_from_the_plan_page(acme, doc_step):
    client = acme.client(Role.PARTNER_ADMIN)
    response = client.post(upload_url(doc_step), {f"doc-{doc_step.pk}-document": b.pdf()})
    assert response.status_code == 302
    assert response["Location"] == f"/onboarding/#step-{doc_step.pk}"
    assert fresh(acme, doc_step).completed_at is not None
    page = client.get("/onboarding/").content.decode()
    assert 'data-testid="document-link"' in page and "Uploaded by" in page
    assert ">Replace</button>" in page


def test_a_refused_upload_shows_on_the_page_escaped(acme, doc_step):
    name = "<img src=x onerror=alert(1)>.pdf"
    response = acme.client(Role.PARTNER_ADMIN).post(
        upload_url(doc_step), {f"doc-{doc_step.pk}-document": b.pdf(name, b.HTML)}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "is not a PDF, PNG or JPEG file (its content is HTML)" in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert fresh(acme, doc_step).completed_at is None


def test_no_file_is_a_field_error(acme, doc_step):
    response = acme.client(Role.PARTNER_ADMIN).post(upload_url(doc_step), {})
    assert response.status_code == 400
    assert "Choose the file to upload." in response.content.decode()


def test_who_may_upload(acme, globex, doc_step):
    data = {f"doc-{doc_step.pk}-document": b.pdf()}
    assert acme.client(Role.PARTNER_USER).post(upload_url(doc_step), data).status_code == 403
    assert acme.client(Role.OPS_ADMIN).post(upload_url(doc_step), data).status_code == 403
    assert globex.client(Role.PARTNER_ADMIN).post(upload_url(doc_step), data).status_code == 404
    with acme.scope():
        custom = PlanStep.objects.get(plan_id=doc_step.plan_id, kind=StepKind.CUSTOM)
    assert acme.client(Role.PARTNER_ADMIN).post(upload_url(custom), data).status_code == 404
    assert not fresh(acme, doc_step).document


@pytest.fixture
def uploaded(acme, doc_step):
    with acme.scope():
        return plan_documents.upload(doc_step, b.pdf("W9 <2031>.pdf"), by=acme[Role.PARTNER_ADMIN])


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_the_partners_people_and_staff_download_it(acme, uploaded, role):
    response = acme.client(role).get(download_url(uploaded))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b.PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_nobody_else_downloads_it(acme, globex, uploaded, doc_step):
    with acme.scope():
        other = factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.other_partner)
    acme.members["other_user"] = other
    assert acme.client("other_user").get(download_url(uploaded)).status_code == 404
    assert globex.client(Role.OPS_ADMIN).get(download_url(uploaded)).status_code == 404
    assert globex.client(Role.PARTNER_USER).get(download_url(uploaded)).status_code == 404
    anonymous = acme.client().get(download_url(uploaded))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_a_step_without_a_document_is_404(acme, doc_step):
    assert acme.client(Role.PARTNER_USER).get(download_url(doc_step)).status_code == 404
