"""Proof-of-performance uploads: the type decided from the content, the caps
per file and per claim, storing under random names, and the one view that
serves a proof (tenant, partner and role checked; attachment, nosniff)."""

import dataclasses
import hashlib
import io
import zipfile

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.urls import reverse
from PIL import Image

from mdf import uploads
from mdf.errors import MdfError
from mdf.models import Claim, ProofFile
from prm.tenancy.roles import Role
from tests import factories as base

from .factories import make_claim

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def workbook() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Name", "Email"])
    book.active.append(["Ada", "ada@example.test"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    """As a browser sends it: the name and content type it claims."""
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def proof_media(settings, tmp_path, monkeypatch):
    """The proofs storage in a folder of this test. The FileField took its
    storage when the model was loaded, so it is pointed at the new one."""
    settings.STORAGES = {
        **settings.STORAGES,
        "proofs": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    monkeypatch.setattr(ProofFile._meta.get_field("file"), "storage", storages["proofs"])
    return tmp_path


# --- What a file is -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("invoice.pdf", PDF, "application/pdf"),
        ("photo.png", image("PNG"), "image/png"),
        ("photo.jpg", image("JPEG"), "image/jpeg"),
        ("screenshot.webp", image("WEBP"), "image/webp"),
        ("attendees.csv", b"name,email\nAda,ada@example.test\nBob,bob@example.test\n", "text/csv"),
        (
            "attendees-excel.csv",
            "\ufeffName;Company;Email\r\nJosé;Café Ltd;jose@example.test\r\n".encode(),
            "text/csv",
        ),
        ("leads.tsv", b"name\temail\nAda\tada@example.test\n", "text/csv"),
        ("leads.xlsx", workbook(), XLSX),
    ],
)
def test_each_allowed_kind_is_recognised(name, data, content_type):
    checked = uploads.check_upload(upload(name, data, "application/octet-stream"))
    assert checked.content_type == content_type
    assert checked.name == name
    assert checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert checked.extension == ProofFile.EXTENSIONS[content_type]


def test_the_name_and_the_browsers_type_are_not_believed():
    checked = uploads.check_upload(upload("scan.pdf", image("PNG"), "application/pdf"))
    assert checked.content_type == "image/png"
    assert checked.extension == ".png"


def test_html_renamed_pdf_is_refused_naming_the_file():
    with pytest.raises(MdfError) as refused:
        uploads.check_upload(upload("invoice.pdf", HTML, "application/pdf"))
    assert str(refused.value) == (
        "invoice.pdf is not a PDF, PNG, JPEG, WebP, CSV or XLSX file (its content is HTML)."
    )
    assert refused.value.field == "proofs"


@pytest.mark.parametrize(
    ("name", "data", "looks_like"),
    [
        ("photo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "an SVG"),
        (
            "logo.png",
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
            "an SVG",
        ),
        ("list.csv", b"function steal() { fetch('/x'); }\ndocument.cookie;\n", "a script"),
        ("app.js", b"(function () { document.location = 'https://evil.test'; })();\n", "script"),
        ("list.csv", b"a,b\n1,<script>alert(1)</script>\n", "HTML or a script"),
        ("setup.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "a Windows program"),
        ("tool.jpg", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 40, "a program"),
        ("anim.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "a GIF image"),
        ("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "legacy or encrypted"),
        ("notes.csv", "a,b\n1,2\n".encode("utf-16"), "binary data"),
        ("latin1.csv", "name,city\nMüller,Köln\n".encode("latin-1"), "not UTF-8 text"),
        ("letter.csv", b"Dear reviewer\nplease find our invoice attached\n", "not a table"),
        ("empty.csv", b"   \n\n", "empty text"),
    ],
)
def test_other_kinds_are_refused(name, data, looks_like):
    with pytest.raises(MdfError) as refused:
        uploads.check_upload(upload(name, data))
    message = str(refused.value)
    assert message.startswith(f"{name} is not a PDF, PNG, JPEG, WebP, CSV or XLSX file")
    assert looks_like in message


def test_a_pdf_must_start_as_one():
    """An HTML page with a PDF header further down (a polyglot) is not a PDF."""
    polyglot = b"<html><body><script>alert(1)</script>\n%PDF-1.4\n" + PDF
    with pytest.raises(MdfError, match=r"invoice\.pdf is not .*its content is HTML"):
        uploads.check_upload(upload("invoice.pdf", polyglot))
    junk_first = b"junk\n" + PDF
    with pytest.raises(MdfError, match="its content is a PDF with something before its header"):
        uploads.check_upload(upload("invoice.pdf", junk_first))


def test_a_zip_that_is_not_a_workbook_is_refused():
    docx = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    with pytest.raises(MdfError, match=r"a ZIP archive that is not an XLSX workbook"):
        uploads.check_upload(upload("leads.xlsx", docx, XLSX))
    plain = zipped({"leads.csv": b"a,b\n1,2\n"})
    with pytest.raises(MdfError, match=r"leads\.xlsx is not .*not an XLSX workbook"):
        uploads.check_upload(upload("leads.xlsx", plain, XLSX))
    with pytest.raises(MdfError, match="damaged or unreadable"):
        uploads.check_upload(upload("leads.xlsx", workbook()[:300], XLSX))


def test_a_workbook_with_macros_is_refused():
    book = io.BytesIO(workbook())
    with zipfile.ZipFile(book, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\x00" * 16)
    with pytest.raises(MdfError, match="a workbook with macros"):
        uploads.check_upload(upload("leads.xlsx", book.getvalue(), XLSX))


def test_a_zip_bomb_is_refused_without_unpacking_it(monkeypatch):
    monkeypatch.setattr(uploads, "XLSX_MAX_UNCOMPRESSED", 1024 * 1024)
    bomb = zipped(
        {
            "[Content_Types].xml": b"spreadsheetml",
            "xl/workbook.xml": b"<workbook/>",
            "xl/worksheets/sheet1.xml": b"\x00" * (2 * 1024 * 1024),
        }
    )
    assert len(bomb) < 10_000
    with pytest.raises(MdfError, match="a ZIP archive unpacking to more than 1 MB"):
        uploads.check_upload(upload("leads.xlsx", bomb, XLSX))
    monkeypatch.setattr(uploads, "XLSX_MAX_MEMBERS", 5)
    many = zipped({f"xl/part{i}.xml": b"<x/>" for i in range(6)})
    with pytest.raises(MdfError, match="a ZIP archive of more than 5 files"):
        uploads.check_upload(upload("leads.xlsx", many, XLSX))


# --- Caps ----------------------------------------------------------------------------


def test_the_caps_default_to_10_mb_100_mb_and_100_files():
    assert uploads.max_file_bytes() == 10 * 1024 * 1024
    assert uploads.max_claim_bytes() == 100 * 1024 * 1024
    assert uploads.max_files() == 100


def test_an_oversize_file_is_refused(settings):
    settings.MDF_UPLOAD_MAX_FILE_BYTES = 1024
    big = upload("big-invoice.pdf", PDF + b"%" * 2048)
    with pytest.raises(MdfError) as refused:
        uploads.check_uploads([upload("ok.pdf", PDF), big])
    assert str(refused.value) == "big-invoice.pdf is 2.1 KB; a file may be at most 1 KB."
    assert refused.value.field == "proofs"
    with pytest.raises(MdfError, match=r"big-invoice\.pdf is 2\.1 KB"):
        uploads.check_upload(big)


def test_the_total_per_claim_is_capped(settings):
    settings.MDF_UPLOAD_MAX_CLAIM_BYTES = 1000
    with pytest.raises(MdfError) as refused:
        uploads.check_uploads([upload("photos.pdf", PDF)], existing_count=3, existing_bytes=950)
    assert str(refused.value) == (
        "photos.pdf would bring this claim's files to 1 KB; "
        "a claim's files may total at most 1000 bytes."
    )
    assert uploads.check_uploads([upload("photos.pdf", PDF)], existing_bytes=1000 - len(PDF))


def test_the_101st_file_is_refused():
    with pytest.raises(MdfError) as refused:
        uploads.check_uploads([upload("one-more.pdf", PDF)], existing_count=100)
    assert str(refused.value) == (
        "one-more.pdf would be file 101 of this claim; a claim may have at most 100 files "
        "(it has 100 already)."
    )
    batch = [upload(f"photo-{n}.pdf", PDF) for n in range(1, 102)]
    with pytest.raises(MdfError, match=r"^photo-101\.pdf would be file 101 of this claim"):
        uploads.check_uploads(batch)
    assert len(uploads.check_uploads(batch[:100])) == 100


def test_django_lets_one_file_too_many_reach_the_claim_form():
    """Past DATA_UPLOAD_MAX_NUMBER_FILES Django answers a bare 400 before the
    view runs: the cap is above the claim's, so the 101st file gets the
    message that names it."""
    from prm import settings as configured

    assert configured.DATA_UPLOAD_MAX_NUMBER_FILES > configured.MDF_UPLOAD_MAX_FILES == 100


def test_one_bad_file_refuses_the_whole_batch():
    with pytest.raises(MdfError, match=r"^page\.pdf is not"):
        uploads.check_uploads([upload("ok.pdf", PDF), upload("page.pdf", HTML)])


def test_original_names_are_sanitised():
    assert uploads.clean_name("../../etc/passwd") == "passwd"
    assert uploads.clean_name("C:\\Users\\ada\\invoice.pdf") == "invoice.pdf"
    assert uploads.clean_name('in\r\nvoice\x00"x.pdf') == 'invoice"x.pdf'
    assert uploads.clean_name("") == "file"
    long = uploads.clean_name("a" * 300 + ".xlsx")
    assert len(long) == 200 and long.endswith("a.xlsx")


# --- Storing ------------------------------------------------------------------------


@pytest.mark.django_db
def test_stored_under_a_random_name_with_the_detected_extension(acme, proof_media):
    data = image("PNG")
    with acme.scope():
        claim = make_claim(acme.partner, acme[Role.PARTNER_USER].user)
        checked = uploads.check_upload(upload("../Our secret plans.pdf", data))
        first = uploads.store_proof(
            claim, checked, kind="photo", by_user=acme[Role.PARTNER_USER].user
        )
        second = uploads.store_proof(
            claim,
            uploads.check_upload(upload("Our secret plans.pdf", data)),
            kind="photo",
            by_user=acme[Role.PARTNER_USER].user,
        )
        first.refresh_from_db()
    assert first.original_name == "Our secret plans.pdf"
    assert first.content_type == "image/png"
    assert first.size == len(data)
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    assert first.kind == "photo"
    folder, name = first.file.name.rsplit("/", 1)
    assert folder == f"mdf/{acme.tenant.pk}"
    assert name.endswith(".png") and len(name) == 32 + 4
    assert "secret" not in first.file.name
    assert first.file.name != second.file.name
    assert (proof_media / first.file.name).read_bytes() == data


@pytest.mark.django_db
def test_a_record_that_cannot_be_saved_leaves_no_file(acme, proof_media):
    with acme.scope():
        claim = make_claim(acme.partner, acme[Role.PARTNER_USER].user)
        checked = uploads.check_upload(upload("invoice.pdf", PDF))
        # A size the database refuses (mdf_proof_not_empty).
        with pytest.raises(IntegrityError):
            uploads.store_proof(
                claim,
                dataclasses.replace(checked, size=0),
                kind="invoice",
                by_user=acme[Role.PARTNER_USER].user,
            )
    assert not any(path.is_file() for path in proof_media.rglob("*"))


# --- Serving -------------------------------------------------------------------------


@pytest.fixture
def stored(acme, proof_media):
    """A submitted claim of acme's partner with a PDF and a CSV proof."""
    user = acme[Role.PARTNER_USER].user
    with acme.scope():
        claim = make_claim(acme.partner, user)
        pdf, csv_file = uploads.check_uploads(
            [
                upload("Invoice 2024-07.pdf", PDF),
                upload("attendees.csv", b"name,email\nAda,ada@example.test\n", "text/csv"),
            ]
        )
        proofs = {
            "pdf": uploads.store_proof(claim, pdf, kind="invoice", by_user=user),
            "csv": uploads.store_proof(claim, csv_file, kind="attendee_list", by_user=user),
        }
    return claim, proofs


def proof_url(claim, proof, **query) -> str:
    url = reverse("mdf:proof", args=[claim.code, proof.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.PARTNER_USER, Role.PARTNER_ADMIN])
def test_the_partner_downloads_its_proof_as_an_attachment(acme, stored, role):
    claim, proofs = stored
    response = acme.client(role).get(proof_url(claim, proofs["pdf"]))
    assert response.status_code == 200
    assert body(response) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="Invoice 2024-07.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE]
)
def test_staff_who_may_view_claims_download_it(acme, stored, role):
    claim, proofs = stored
    response = acme.client(role).get(proof_url(claim, proofs["csv"]))
    assert response.status_code == 200
    assert body(response) == b"name,email\nAda,ada@example.test\n"
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="attendees.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_another_partner_of_the_tenant_gets_404(acme, stored):
    claim, proofs = stored
    with acme.scope():
        outsider = base.make_member(acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner)
    client = acme.client()
    client.force_login(outsider.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    response = client.get(proof_url(claim, proofs["pdf"]))
    assert response.status_code == 404


@pytest.mark.django_db
def test_another_tenant_gets_404_through_its_own_host(acme, globex, stored):
    claim, proofs = stored
    for role in (Role.OPS_ADMIN, Role.PARTNER_ADMIN):
        response = globex.client(role).get(proof_url(claim, proofs["pdf"]))
        assert response.status_code == 404, role


@pytest.mark.django_db
def test_a_proof_of_another_claim_or_an_unknown_one_is_404(acme, stored):
    claim, proofs = stored
    user = acme[Role.PARTNER_USER].user
    with acme.scope():
        other_claim = make_claim(acme.partner, user)
    client = acme.client(Role.PARTNER_USER)
    assert client.get(proof_url(other_claim, proofs["pdf"])).status_code == 404
    assert client.get(proof_url(claim, other_claim)).status_code == 404  # a claim's id
    url = reverse("mdf:proof", args=["FC-NOSUCH00", proofs["pdf"].pk])
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_a_draft_claims_proof_is_its_partners_only(acme, stored):
    claim, proofs = stored
    with acme.scope():
        Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.DRAFT)
    url = proof_url(claim, proofs["pdf"])
    assert acme.client(Role.PARTNER_USER).get(url).status_code == 200
    assert acme.client(Role.OPS_ADMIN).get(url).status_code == 404


@pytest.mark.django_db
def test_inline_only_for_images_and_pdf(acme, stored):
    claim, proofs = stored
    user = acme[Role.PARTNER_USER].user
    with acme.scope():
        png = uploads.store_proof(
            claim,
            uploads.check_upload(upload("stand.png", image("PNG"))),
            kind="photo",
            by_user=user,
        )
    client = acme.client(Role.FINANCE)
    for proof, name in ((proofs["pdf"], "Invoice 2024-07.pdf"), (png, "stand.png")):
        response = client.get(proof_url(claim, proof, inline=1))
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'inline; filename="{name}"'
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert "default-src 'none'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "SAMEORIGIN"
    response = client.get(proof_url(claim, proofs["csv"], inline=1))
    assert response["Content-Disposition"] == 'attachment; filename="attendees.csv"'
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_anonymous_is_sent_to_log_in(acme, stored):
    claim, proofs = stored
    response = acme.client().get(proof_url(claim, proofs["pdf"]))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_only_get(acme, stored):
    claim, proofs = stored
    response = acme.client(Role.PARTNER_USER).post(proof_url(claim, proofs["pdf"]))
    assert response.status_code == 405


@pytest.mark.django_db
def test_a_missing_stored_file_is_404(acme, stored, proof_media):
    claim, proofs = stored
    (proof_media / proofs["pdf"].file.name).unlink()
    response = acme.client(Role.PARTNER_USER).get(proof_url(claim, proofs["pdf"]))
    assert response.status_code == 404


# --- Storage by setting -------------------------------------------------------------


def test_the_s3_setting_makes_the_proofs_storage_a_private_bucket(monkeypatch):
    """PRM_PROOF_STORAGE=s3: prm.settings, read afresh under that
    environment, gives the proofs an S3Storage built from PRM_PROOF_S3_*
    (no request is made: the client connects on first use)."""
    import runpy

    from django.core.files.storage import StorageHandler
    from storages.backends.s3 import S3Storage

    import prm.settings

    settings_file = prm.settings.__file__
    for name, value in {
        "PRM_PROOF_STORAGE": "s3",
        "PRM_PROOF_S3_BUCKET": "acme-proofs",
        "PRM_PROOF_S3_ENDPOINT_URL": "https://objects.example.test",
        "PRM_PROOF_S3_REGION": "eu-central-1",
        "PRM_PROOF_S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "PRM_PROOF_S3_SECRET_ACCESS_KEY": "not-a-secret",
    }.items():
        monkeypatch.setenv(name, value)
    configured = runpy.run_path(settings_file)["STORAGES"]
    storage = StorageHandler(configured)["proofs"]
    assert isinstance(storage, S3Storage)
    assert storage.bucket_name == "acme-proofs"
    assert storage.endpoint_url == "https://objects.example.test"
    assert storage.region_name == "eu-central-1"
    assert storage.access_key == "AKIAEXAMPLE"
    assert storage.secret_key == "not-a-secret"
    assert storage.default_acl == "private"
    assert storage.querystring_auth is True
    assert storage.file_overwrite is False
    assert storage.location == "proofs"

    monkeypatch.setenv("PRM_PROOF_STORAGE", "local")
    local = runpy.run_path(settings_file)["STORAGES"]
    assert local["proofs"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"


def test_an_empty_file_is_refused():
    with pytest.raises(MdfError, match=r"^empty\.pdf is empty\.$"):
        uploads.check_upload(upload("empty.pdf", b""))
