"""The partner portal's agreements: the list of what to accept and what
was accepted, a version's page and its acceptance form, its PDF, and the
receipt; who may do what (partner admin, partner user, staff), ownership
(another partner or tenant: 404) and query bounds."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from onboarding.models import Acceptance, AgreementVersion
from prm.tenancy.roles import Role
from tests import factories

from . import builders_agreements as b

pytestmark = pytest.mark.django_db
LIST = "/onboarding/agreements/"


def page(version):
    return reverse("onboarding:agreement", args=[version.pk])


def pdf(version):
    return reverse("onboarding:agreement_pdf", args=[version.pk])


def receipt(found):
    return reverse("onboarding:receipt", args=[found.pk])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def accept_data(version, name="Pat Partner", agree="on"):
    data = {"typed_name": name, "content_sha256": version.content_sha256}
    if agree:
        data["agree"] = agree
    return data


# --- The list -----------------------------------------------------------------------------------


def test_the_list_shows_what_to_accept_and_what_was_accepted(acme):
    with acme.scope():
        owed = b.version(acme, b.agreement(acme, "Data processing agreement"))
        done = b.version(acme, b.agreement(acme, "Partner program agreement"))
        found = b.accept(acme, done)
    response = acme.client(Role.PARTNER_ADMIN).get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert [o.version for o, _ in response.context["owed"]] == [owed]
    assert page(owed) in html and "Read and accept" in html
    assert receipt(found) in html
    assert 'data-testid="reminder"' not in html  # the never-accepted one blocks: the banner says so
    assert 'data-testid="portal-gate"' in html


def test_a_new_version_in_its_grace_period_is_a_reminder_without_the_banner(acme):
    with acme.scope():
        first = b.version(acme, days_ago=40)
        b.accept(acme, first)
        second = b.version(acme, first.agreement, days_ago=2, grace_days=30)
    response = acme.client(Role.PARTNER_ADMIN).get(LIST)
    html = response.content.decode()
    assert 'data-testid="reminder"' in html
    assert 'data-testid="portal-gate"' not in html
    ((owed, _url),) = response.context["owed"]
    assert owed.version == second and not owed.blocking
    assert owed.deadline == second.effective_on + dt.timedelta(days=30)


def test_a_partner_user_sees_who_can_accept(acme):
    with acme.scope():
        b.version(acme)
    response = acme.client(Role.PARTNER_USER).get(LIST)
    assert response.status_code == 200
    assert response.context["acceptors"] == [acme[Role.PARTNER_ADMIN].user.email]
    assert 'data-testid="acceptors"' in response.content.decode()


def test_nothing_to_accept(acme):
    response = acme.client(Role.PARTNER_ADMIN).get(LIST)
    assert response.status_code == 200
    assert "Nothing to accept" in response.content.decode()


@pytest.mark.parametrize("role", [Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE])
def test_staff_have_no_partner_agreements_page(acme, role):
    assert acme.client(role).get(LIST).status_code == 403


def test_the_list_runs_a_constant_number_of_queries(acme, django_assert_max_num_queries):
    client = acme.client(Role.PARTNER_ADMIN)
    client.get(LIST)

    def grow(n):
        with acme.scope():
            for i in range(n):
                version = b.version(acme, b.agreement(acme, f"Agreement {i} {n}"))
                b.accept(acme, version)
            b.version(acme, b.agreement(acme, f"Owed {n}"))

    grow(2)
    with django_assert_max_num_queries(16) as few:
        assert client.get(LIST).status_code == 200
    grow(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(LIST).status_code == 200


# --- A version's page ------------------------------------------------------------------


def test_a_partner_admin_reads_and_accepts(acme, django_capture_on_commit_callbacks):
    with acme.scope():
        version = b.version(acme, body="# Terms\n\n<script>alert('x')</script> **Bold**")
    client = acme.client(Role.PARTNER_ADMIN)
    response = client.get(page(version))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Terms</h1>" in html and "<strong>Bold</strong>" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'data-testid="accept-form"' in html and version.content_sha256 in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            page(version),
            accept_data(version, name="Pat Partner"),
            HTTP_USER_AGENT="Browser/1.0",
            REMOTE_ADDR="203.0.113.5",
        )
    assert response.status_code == 302 and response["Location"] == LIST
    with acme.scope():
        found = Acceptance.objects.get()
    assert (found.typed_name, found.ip_address, found.user_agent) == (
        "Pat Partner",
        "203.0.113.5",
        "Browser/1.0",
    )
    assert found.content_sha256 == version.content_sha256
    assert any("is accepted" in m for m in messages_of(response))
    # Read again: accepted, with the receipt; no form.
    html = client.get(page(version)).content.decode()
    assert 'data-testid="accepted"' in html and receipt(found) in html
    assert 'data-testid="accept-form"' not in html


def test_a_double_submit_says_it_is_already_accepted(acme):
    with acme.scope():
        version = b.version(acme)
    client = acme.client(Role.PARTNER_ADMIN)
    assert client.post(page(version), accept_data(version)).status_code == 302
    response = client.post(page(version), accept_data(version, name="Again"))
    assert response.status_code == 302
    assert any("already accepted" in m for m in messages_of(response))
    with acme.scope():
        assert Acceptance.objects.get().typed_name == "Pat Partner"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"agree": ""}, "agree"),
        ({"name": "P"}, "typed_name"),
        ({"name": ""}, "typed_name"),
    ],
)
def test_the_form_asks_for_the_tick_and_the_name(acme, data, field):
    with acme.scope():
        version = b.version(acme)
    name, agree = data.get("name", "Pat Partner"), data.get("agree", "on")
    posted = accept_data(version, name=name, agree=agree)
    response = acme.client(Role.PARTNER_ADMIN).post(page(version), posted)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    with acme.scope():
        assert not Acceptance.objects.exists()


def test_a_stale_page_is_refused(acme):
    with acme.scope():
        version = b.version(acme)
    data = accept_data(version) | {"content_sha256": "0" * 64}
    response = acme.client(Role.PARTNER_ADMIN).post(page(version), data)
    assert response.status_code == 400
    assert "changed while you were reading" in response.content.decode()
    with acme.scope():
        assert not Acceptance.objects.exists()


def test_a_partner_user_reads_but_cannot_accept(acme):
    with acme.scope():
        version = b.version(acme)
    client = acme.client(Role.PARTNER_USER)
    response = client.get(page(version))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="accept-form"' not in html and 'data-testid="acceptors"' in html
    assert acme[Role.PARTNER_ADMIN].user.email in html
    assert client.post(page(version), accept_data(version)).status_code == 403
    with acme.scope():
        assert not Acceptance.objects.exists()


def test_an_older_accepted_version_stays_readable_and_a_replaced_one_points_on(acme):
    with acme.scope():
        first = b.version(acme, days_ago=40)
        b.accept(acme, first)
        second = b.version(acme, first.agreement, days_ago=1)
        third_party = b.version(acme, b.agreement(acme, "Other"), days_ago=30)
        b.version(acme, third_party.agreement, days_ago=1)
    client = acme.client(Role.PARTNER_ADMIN)
    assert 'data-testid="accepted"' in client.get(page(first)).content.decode()
    html = client.get(page(third_party)).content.decode()
    assert 'data-testid="refusal"' in html and "replaced by a newer version" in html
    assert 'data-testid="accept-form"' not in html
    assert 'data-testid="accept-form"' in client.get(page(second)).content.decode()


def test_versions_not_asked_of_the_partner_are_404(acme, globex):
    with acme.scope():
        msp_only = b.version(acme, b.agreement(acme, "MSP terms", partner_types=["msp"]))
        scheduled = b.version(acme, b.agreement(acme, "Next year"))
        AgreementVersion.objects.filter(pk=scheduled.pk).update(
            effective_on=b.today(acme) + dt.timedelta(days=5)
        )
    with globex.scope():
        theirs = b.version(globex)
    client = acme.client(Role.PARTNER_ADMIN)
    for version in (msp_only, scheduled, theirs):
        assert client.get(page(version)).status_code == 404
        assert client.post(page(version), accept_data(version)).status_code == 404
    assert client.get("/onboarding/agreements/not-a-uuid/").status_code == 404
    with acme.scope():
        assert not Acceptance.objects.exists()


@pytest.mark.parametrize("role", [Role.OPS_ADMIN, Role.EXECUTIVE])
def test_staff_get_403_on_a_version_page(acme, role):
    with acme.scope():
        version = b.version(acme)
    assert acme.client(role).get(page(version)).status_code == 403


# --- The PDF and the receipt -------------------------------------------------------------------


def test_a_pdf_version_is_framed_from_its_page(acme):
    with acme.scope():
        version = b.version(acme, pdf=b.pdf_file())
    client = acme.client(Role.PARTNER_USER)
    html = client.get(page(version)).content.decode()
    assert f'<iframe class="agreement-pdf" src="{pdf(version)}"' in html
    response = client.get(pdf(version))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == b.PDF
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["X-Content-Type-Options"] == "nosniff"
    download = client.get(pdf(version) + "?download=1")
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Frame-Options"] == "DENY"
    assert "sandbox" in download["Content-Security-Policy"]
    # Staff read it too (the admin's preview).
    assert acme.client(Role.FINANCE).get(pdf(version)).status_code == 200


def test_a_text_version_has_no_pdf(acme):
    with acme.scope():
        version = b.version(acme)
    assert acme.client(Role.PARTNER_ADMIN).get(pdf(version)).status_code == 404


def test_the_receipt(acme):
    with acme.scope():
        version = b.version(acme, b.agreement(acme, "Partner program agreement"))
        found = b.accept(acme, version, name="Pat Ünïcode Partner")
    response = acme.client(Role.PARTNER_USER).get(receipt(found))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response.content.startswith(b"%PDF-")
    for role in (Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE):
        assert acme.client(role).get(receipt(found)).status_code == 200


def test_the_receipt_states_the_acceptance(acme):
    from onboarding import receipts

    with acme.scope():
        version = b.version(acme, b.agreement(acme, "Partner program agreement"))
        found = b.accept(acme, version)
        found = Acceptance.objects.select_related("partner", "version__agreement", "user").get()
        found.partner.tenant = acme.tenant
        facts = dict(receipts.facts(found))
    assert facts["Partner"] == acme.partner.name
    assert facts["Agreement"] == "Partner program agreement" and facts["Version"] == "1"
    assert facts["Content SHA-256"] == version.content_sha256
    assert facts["Typed name"] == "Pat Partner"
    assert facts["IP address"] == "198.51.100.7"
    assert facts["Browser"] == "Mozilla/5.0 (Test)"
    assert acme.tenant.timezone in facts["Accepted at"]
    assert facts["Vendor"] == acme.tenant.name


def test_another_partners_receipt_is_404(acme, globex):
    with acme.scope():
        version = b.version(acme)
        found = b.accept(acme, version)
        other_admin = factories.make_member(
            acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner, email="o@acme.test"
        )
    other = acme.client()
    other.force_login(other_admin.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    assert other.get(receipt(found)).status_code == 404
    # Another tenant's member, on its own host: 404 too.
    assert globex.client(Role.OPS_ADMIN).get(receipt(found)).status_code == 404
    assert globex.client(Role.PARTNER_ADMIN).get(page(version)).status_code == 404
    assert globex.client(Role.PARTNER_ADMIN).get(pdf(version)).status_code == 404


@pytest.mark.django_db
def test_partner_people_find_their_agreements_from_home(acme):
    for role in (Role.PARTNER_ADMIN, Role.PARTNER_USER):
        cards = {c["card"].key: c for c in acme.client(role).get("/").context["cards"]}
        assert "onboarding.our_agreements" in cards
    staff = {c["card"].key for c in acme.client(Role.OPS_ADMIN).get("/").context["cards"]}
    assert "onboarding.our_agreements" not in staff
