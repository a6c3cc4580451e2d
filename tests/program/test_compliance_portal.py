"""The partner's compliance page: the checklist with the automatic items
and links to fix them, answers and uploads by the partner admin (partner
users read only: 403 on every POST), bad input (wrong file type, too big,
missing attestation) refused with a clear error and nothing changed,
submitting twice, other partners' and tenants' reviews (404), files served
to the partner's people and staff only."""

import pytest
from django.test import override_settings
from django.urls import reverse

from prm.tenancy.roles import STAFF_ROLES, Role
from program.models import ComplianceAnswer, ComplianceReview
from tests import factories

from . import builders_compliance as b

pytestmark = pytest.mark.django_db
PAGE = "/program/compliance/"
Status = ComplianceReview.Status


@pytest.fixture
def review(acme):
    with acme.scope():
        return b.review(acme)


@pytest.fixture
def item(acme):
    with acme.scope():
        return b.item(acme, help_text="Read our policy first.")


def answer_url(review, item):
    return reverse("program:compliance_answer", args=[review.pk, item.pk])


def test_the_page_shows_the_checklist_with_links_to_fix(acme, review, item):
    response = acme.client(Role.PARTNER_USER).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-key="agreements"' in html and 'data-key="certifications"' in html
    assert "Still missing:" in html and reverse("onboarding:profile") in html
    assert "Anti-bribery policy" in html and "Read our policy first." in html
    assert "Submit for sign-off" not in html  # a partner user reads only
    admin_page = acme.client(Role.PARTNER_ADMIN).get(PAGE).content.decode()
    assert "Submit for sign-off" in admin_page and "Attest" in admin_page


def test_staff_get_403_and_no_review_reads_as_such(acme):
    for role in STAFF_ROLES:
        assert acme.client(role).get(PAGE).status_code == 403
    response = acme.client(Role.PARTNER_ADMIN).get(PAGE)
    assert response.status_code == 200 and "No compliance review" in response.content.decode()


def test_a_partner_user_may_not_post(acme, review, item):
    client = acme.client(Role.PARTNER_USER)
    posts = [
        (answer_url(review, item), {f"item-{item.pk}-confirm": "on", f"item-{item.pk}-name": "X"}),
        (reverse("program:compliance_tax", args=[review.pk]), {"tax-file": b.pdf()}),
        (reverse("program:compliance_submit", args=[review.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403
    with acme.scope():
        assert not ComplianceAnswer.objects.exists()
        assert ComplianceReview.objects.get().status == Status.OPEN


def test_other_partners_and_other_tenants_reviews_are_404(acme, globex, item):
    with acme.scope():
        theirs = b.review(acme, acme.other_partner)
    client = acme.client(Role.PARTNER_ADMIN)
    assert client.post(reverse("program:compliance_submit", args=[theirs.pk])).status_code == 404
    assert client.post(answer_url(theirs, item), {}).status_code == 404
    assert client.get(reverse("program:compliance_tax_file", args=[theirs.pk])).status_code == 404
    intruder = globex.client(Role.PARTNER_ADMIN)
    assert intruder.post(reverse("program:compliance_submit", args=[theirs.pk])).status_code == 404


def test_attesting_needs_the_tick_and_a_name(acme, review, item):
    client = acme.client(Role.PARTNER_ADMIN)
    response = client.post(answer_url(review, item), {f"item-{item.pk}-name": "Pat"})
    assert response.status_code == 400
    assert "Tick the box to attest this item." in response.content.decode()
    response = client.post(answer_url(review, item), {f"item-{item.pk}-confirm": "on"})
    assert response.status_code == 400 and "Type your name" in response.content.decode()
    with acme.scope():
        assert not ComplianceAnswer.objects.exists()
    response = client.post(
        answer_url(review, item), {f"item-{item.pk}-confirm": "on", f"item-{item.pk}-name": "Pat"}
    )
    assert response.status_code == 302
    with acme.scope():
        assert ComplianceAnswer.objects.get().attested_name == "Pat"


def test_a_file_of_the_wrong_kind_or_too_big_is_refused(acme, review):
    client = acme.client(Role.PARTNER_ADMIN)
    url = reverse("program:compliance_tax", args=[review.pk])
    text = b.pdf("w9.pdf", b"just some text, not a PDF at all\n")
    response = client.post(url, {"tax-file": text})
    assert response.status_code == 400
    assert "w9.pdf is not a PDF, PNG or JPEG file" in response.content.decode()
    with override_settings(MDF_UPLOAD_MAX_FILE_BYTES=10):
        response = client.post(url, {"tax-file": b.pdf()})
    assert response.status_code == 400 and "a file may be at most" in response.content.decode()
    assert client.post(url, {}).status_code == 400
    with acme.scope():
        review.refresh_from_db()
        assert not review.file


def test_upload_submit_twice_and_the_file_served(acme, review):
    client = acme.client(Role.PARTNER_ADMIN)
    with acme.scope():
        b.complete_profile(acme.partner)
    tax = reverse("program:compliance_tax", args=[review.pk])
    assert client.post(tax, {"tax-file": b.pdf("w9.pdf")}).status_code == 302
    submit = reverse("program:compliance_submit", args=[review.pk])
    assert client.post(submit).status_code == 302
    again = client.post(submit, follow=True)
    assert "already submitted" in again.content.decode()
    with acme.scope():
        review.refresh_from_db()
        assert review.status == Status.SUBMITTED
    served = reverse("program:compliance_tax_file", args=[review.pk])
    for role in (Role.PARTNER_USER, Role.CHANNEL_MANAGER, Role.FINANCE):
        response = acme.client(role).get(served)
        assert response.status_code == 200 and response["Content-Security-Policy"]
    # Submitted: nothing more to change.
    late = client.post(tax, {"tax-file": b.pdf("w9b.pdf", b.PDF + b"%2")})
    assert late.status_code == 400 and "can no longer be changed" in late.content.decode()
    with acme.scope():
        outsider = factories.make_member(
            acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner
        )
    stranger = acme.client()
    stranger.force_login(outsider.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    assert stranger.get(served).status_code == 404


def test_submitting_with_something_missing_says_what(acme, review, item):
    response = acme.client(Role.PARTNER_ADMIN).post(
        reverse("program:compliance_submit", args=[review.pk])
    )
    assert response.status_code == 400
    assert "Still to do: " in response.content.decode()
    with acme.scope():
        review.refresh_from_db()
        assert review.status == Status.OPEN
