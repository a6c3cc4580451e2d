"""Agreements in the tenant admin: versions added, changed and deleted
through the services (what partners accepted stays fixed), the preview,
read-only acceptances, the acceptance report with its filters and CSV
export, the ops card, roles, tenant isolation and query bounds."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from onboarding.models import Acceptance, Agreement, AgreementVersion
from partners.models import Partner
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role
from tests import factories

from . import builders_agreements as b

pytestmark = pytest.mark.django_db
STAFF = [Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE]
REPORT = "/admin/onboarding/acceptance/report/"
EXPORT = "/admin/onboarding/acceptance/report/export.csv"


def url(name, *args):
    return reverse(f"tenant_admin:onboarding_{name}", args=args)


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def version_form(agreement, **overrides):
    data = {
        "agreement": str(agreement.pk),
        "body": "# Terms\n\n<script>alert(1)</script> **Sell well.**",
        "effective_on": dt.date.today().isoformat(),
        "expires_on": "",
        "grace_days": "",
        "change_summary": "",
    }
    data.update(overrides)
    return data


# --- Agreements and versions -------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF)
def test_staff_read_agreements_and_versions(acme, role):
    with acme.scope():
        version = b.version(acme)
    client = acme.client(role)
    assert client.get(url("agreement_changelist")).status_code == 200
    response = client.get(url("agreement_change", version.agreement_id))
    assert response.status_code == 200
    assert 'data-testid="versions"' in response.content.decode()
    assert client.get(url("agreementversion_changelist")).status_code == 200
    page = client.get(url("agreementversion_change", version.pk))
    assert page.status_code == 200
    assert (page.context["form"] is not None) == (role == Role.OPS_ADMIN)


@pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE])
def test_only_ops_write(acme, role):
    with acme.scope():
        version = b.version(acme)
    client = acme.client(role)
    assert client.get(url("agreementversion_add")).status_code == 403
    assert (
        client.post(url("agreementversion_add"), version_form(version.agreement)).status_code == 403
    )
    response = client.post(
        url("agreementversion_change", version.pk), version_form(version.agreement, body="x")
    )
    assert response.status_code == 403
    assert (
        client.post(url("agreementversion_delete", version.pk), {"post": "yes"}).status_code == 403
    )
    with acme.scope():
        assert AgreementVersion.objects.get().body == b.TEXT.strip("\n")


def test_ops_add_an_agreement_and_a_text_version_then_preview_it(acme):
    client = acme.client(Role.OPS_ADMIN)
    response = client.post(
        url("agreement_add"),
        {
            "title": "Partner program agreement",
            "summary": "",
            "partner_types": ["reseller"],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    with acme.scope():
        agreement = Agreement.objects.get()
    assert agreement.partner_types == ["reseller"]
    add = client.get(url("agreementversion_add") + f"?agreement={agreement.pk}")
    assert add.status_code == 200 and add.context["form"]["agreement"].value() == str(agreement.pk)
    response = client.post(url("agreementversion_add"), version_form(agreement))
    with acme.scope():
        version = AgreementVersion.objects.get()
    assert response.status_code == 302 and response["Location"] == url(
        "agreementversion_change", version.pk
    )
    assert version.number == 1 and version.created_by == acme[Role.OPS_ADMIN].user
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="preview"' in page
    assert "<strong>Sell well.</strong>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert version.content_sha256 in page


def test_ops_add_a_pdf_version_and_an_html_file_is_refused(acme):
    with acme.scope():
        agreement = b.agreement(acme)
    client = acme.client(Role.OPS_ADMIN)
    html = b.pdf_file(b"<!doctype html><script>alert(1)</script>", "terms.pdf")
    response = client.post(url("agreementversion_add"), version_form(agreement, body="", pdf=html))
    assert response.status_code == 200
    assert "is not a PDF" in str(response.context["form"].errors["pdf"])
    response = client.post(
        url("agreementversion_add"), version_form(agreement, body="", pdf=b.pdf_file())
    )
    assert response.status_code == 302
    with acme.scope():
        version = AgreementVersion.objects.get()
    assert version.content_sha256 == AgreementVersion.digest(b.PDF)
    page = client.get(response["Location"]).content.decode()
    assert reverse("onboarding:agreement_pdf", args=[version.pk]) in page


def test_an_accepted_version_is_shown_fixed_and_a_change_is_refused(acme):
    with acme.scope():
        version = b.version(acme, days_ago=2)
        b.accept(acme, version)
    client = acme.client(Role.OPS_ADMIN)
    page = client.get(url("agreementversion_change", version.pk))
    html = page.content.decode()
    assert 'data-testid="locked"' in html
    assert page.context["form"].fields["body"].widget.attrs.get("readonly")
    data = version_form(
        version.agreement,
        body="Quietly changed",
        effective_on=version.effective_on.isoformat(),
    )
    response = client.post(url("agreementversion_change", version.pk), data)
    assert response.status_code == 200
    assert "can no longer change" in str(response.context["form"].errors["body"])
    with acme.scope():
        assert AgreementVersion.objects.get().body == version.body
    # What may change still does.
    data.update(body=version.body, grace_days="60", change_summary="Grace extended")
    response = client.post(url("agreementversion_change", version.pk), data)
    assert response.status_code == 302
    with acme.scope():
        assert AgreementVersion.objects.get().grace_days == 60


def test_deleting_an_accepted_version_is_refused_and_a_draft_goes(acme):
    with acme.scope():
        version = b.version(acme)
        b.accept(acme, version)
        draft = b.version(
            acme, version.agreement, effective_on=b.today(acme) + dt.timedelta(days=9)
        )
    client = acme.client(Role.OPS_ADMIN)
    response = client.post(url("agreementversion_delete", version.pk), {"post": "yes"})
    assert response.status_code == 302
    assert any("cannot be deleted" in m for m in messages_of(response))
    assert client.get(url("agreementversion_delete", draft.pk)).status_code == 200
    response = client.post(url("agreementversion_delete", draft.pk), {"post": "yes"})
    assert response.status_code == 302
    with acme.scope():
        assert list(AgreementVersion.objects.all()) == [version]
        assert AuditEntry.objects.filter(action="onboarding.version_deleted").count() == 1


def test_agreements_are_never_deleted(acme):
    with acme.scope():
        version = b.version(acme)
    response = acme.client(Role.OPS_ADMIN).get(url("agreement_delete", version.agreement_id))
    assert response.status_code == 403


def test_another_tenants_versions_are_404(acme, globex):
    with globex.scope():
        theirs = b.version(globex)
    client = acme.client(Role.OPS_ADMIN)
    for name in ("agreementversion_change", "agreementversion_delete"):
        assert client.get(url(name, theirs.pk)).status_code == 404
    assert client.get(url("agreement_change", theirs.agreement_id)).status_code == 404
    assert client.get(REPORT + f"?agreement={theirs.agreement_id}").status_code == 404
    assert client.get(EXPORT + f"?agreement={theirs.agreement_id}").status_code == 404


def test_version_lists_run_a_constant_number_of_queries(acme, django_assert_max_num_queries):
    client = acme.client(Role.OPS_ADMIN)
    client.get(url("agreementversion_changelist"))

    def grow(n):
        with acme.scope():
            for i in range(n):
                version = b.version(acme, b.agreement(acme, f"Agreement {n}-{i}"), days_ago=3)
                b.version(acme, version.agreement, days_ago=1)
                b.accept(acme, version.agreement.versions.order_by("-number").first())

    grow(2)
    with django_assert_max_num_queries(20) as few:
        assert client.get(url("agreementversion_changelist")).status_code == 200
        assert client.get(url("agreement_changelist")).status_code == 200
    grow(6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url("agreementversion_changelist")).status_code == 200
        assert client.get(url("agreement_changelist")).status_code == 200


# --- Acceptances and the report ------------------------------------------------------------


def test_acceptances_are_read_only(acme):
    with acme.scope():
        found = b.accept(acme, b.version(acme))
    client = acme.client(Role.OPS_ADMIN)
    assert client.get(url("acceptance_changelist")).status_code == 200
    page = client.get(url("acceptance_change", found.pk))
    assert page.status_code == 200
    assert client.get(url("acceptance_add")).status_code == 403
    assert (
        client.post(url("acceptance_change", found.pk), {"typed_name": "Other"}).status_code == 403
    )
    assert client.post(url("acceptance_delete", found.pk), {"post": "yes"}).status_code == 403
    with acme.scope():
        assert Acceptance.objects.get().typed_name == "Pat Partner"


def _world_with_acceptances(acme):
    """acme.partner accepted v1 then v2 is out (in its days to accept);
    other_partner never accepted; an MSP partner is not asked."""
    with acme.scope():
        first = b.version(acme, days_ago=60)
        b.accept(acme, first)
        second = b.version(acme, first.agreement, days_ago=2, grace_days=30)
        b.agreement(acme, "Referral terms", partner_types=["referral"])
        factories.make_partner(acme.tenant, "MSP Partner", partner_type="msp")
        Agreement.objects.filter(pk=first.agreement_id).update(partner_types=["reseller"])
    return first, second


def test_the_report_per_agreement(acme):
    first, second = _world_with_acceptances(acme)
    client = acme.client(Role.CHANNEL_MANAGER)
    response = client.get(REPORT + f"?agreement={first.agreement_id}")
    assert response.status_code == 200
    assert response.context["standing"].version == second
    rows = {r["partner"].name: r for r in response.context["rows"]}
    assert set(rows) == {acme.partner.name, acme.other_partner.name}
    mine = rows[acme.partner.name]
    assert mine["state"] == "grace" and mine["latest"].version == first
    assert mine["latest"].ip_address == "198.51.100.7"
    assert rows[acme.other_partner.name]["state"] == "held"
    html = response.content.decode()
    assert "Pat Partner" in html and "198.51.100.7" in html
    held = client.get(REPORT + f"?agreement={first.agreement_id}&state=held")
    assert [r["partner"] for r in held.context["rows"]] == [acme.other_partner]
    grace = client.get(REPORT + f"?agreement={first.agreement_id}&state=grace")
    assert [r["partner"] for r in grace.context["rows"]] == [acme.partner]
    by_name = client.get(REPORT + f"?agreement={first.agreement_id}&q=Distributor")
    assert [r["partner"] for r in by_name.context["rows"]] == [acme.other_partner]


def test_the_report_counts_each_agreement(acme):
    first, _ = _world_with_acceptances(acme)
    response = acme.client(Role.EXECUTIVE).get(REPORT)
    assert response.status_code == 200
    tallies = {t.standing.agreement.title: t for t, _, _ in response.context["tallies"]}
    program = tallies[first.agreement.title]
    assert (program.asked, program.current, program.grace, program.held) == (2, 0, 1, 1)
    referral = tallies["Referral terms"]
    assert (referral.asked, referral.current, referral.held) == (0, 0, 0)
    assert referral.standing.version is None


def test_suspended_partners_are_left_out_unless_asked_for(acme):
    first, _ = _world_with_acceptances(acme)
    with acme.scope():
        Partner.objects.filter(pk=acme.other_partner.pk).update(status=Partner.Status.SUSPENDED)
    client = acme.client(Role.OPS_ADMIN)
    base = REPORT + f"?agreement={first.agreement_id}"
    assert [r["partner"] for r in client.get(base).context["rows"]] == [acme.partner]
    everyone = client.get(base + "&status=")
    assert len(everyone.context["rows"]) == 2
    suspended = client.get(base + "&status=suspended")
    assert [r["partner"] for r in suspended.context["rows"]] == [acme.other_partner]


@pytest.mark.parametrize("role", STAFF)
def test_who_reads_and_who_exports_the_report(acme, role):
    _world_with_acceptances(acme)
    client = acme.client(role)
    assert client.get(REPORT).status_code == 200
    allowed = role in (Role.OPS_ADMIN, Role.EXECUTIVE)
    assert client.get(EXPORT).status_code == (200 if allowed else 403)


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_partners_have_no_report(acme, role):
    client = acme.client(role)
    assert client.get(REPORT).status_code == 403
    assert client.get(EXPORT).status_code == 403


def test_the_export_is_formula_safe(acme):
    first, _ = _world_with_acceptances(acme)
    with acme.scope():
        third = b.version(acme, b.agreement(acme, '=HYPERLINK("x")'))
        b.accept(acme, third, name="=cmd|'/c calc'!A1")
    response = acme.client(Role.OPS_ADMIN).get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="acme-acceptance-')
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:5] == ["agreement", "partner", "type", "status", "state"]
    cells = {cell for row in rows for cell in row}
    assert "'=cmd|'/c calc'!A1" in cells and '\'=HYPERLINK("x")' in cells
    assert not any(cell.startswith("=") for cell in cells)
    program = [r for r in rows[1:] if r and r[0] == first.agreement.title]
    assert {r[1]: r[4] for r in program} == {
        acme.partner.name: "grace",
        acme.other_partner.name: "held",
    }
    mine = next(r for r in program if r[1] == acme.partner.name)
    assert mine[7] == "1" and mine[10] == "Pat Partner" and mine[12] == "198.51.100.7"
    one = acme.client(Role.OPS_ADMIN).get(EXPORT + f"?agreement={first.agreement_id}&state=held")
    only = list(csv.reader(io.StringIO(b"".join(one.streaming_content).decode())))
    assert [r[1] for r in only[1:] if r] == [acme.other_partner.name]


def test_the_report_runs_a_constant_number_of_queries(acme, django_assert_max_num_queries):
    first, _ = _world_with_acceptances(acme)
    client = acme.client(Role.OPS_ADMIN)
    page = REPORT + f"?agreement={first.agreement_id}"
    client.get(page)

    def grow(n):
        with acme.scope():
            for i in range(n):
                partner = factories.make_partner(acme.tenant, f"Reseller {n}-{i}")
                admin = factories.make_member(acme.tenant, Role.PARTNER_ADMIN, partner=partner)
                from onboarding import acceptance

                acceptance.accept(
                    first.agreement.versions.order_by("-number").first(),
                    by=admin,
                    typed_name="Someone",
                    ip=None,
                    user_agent="",
                )

    grow(2)
    with django_assert_max_num_queries(20) as few:
        assert client.get(page).status_code == 200
        assert client.get(REPORT).status_code == 200
    grow(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(page)
        assert client.get(REPORT).status_code == 200
    assert len(response.context["rows"]) == 12


# --- The ops card --------------------------------------------------------------------------------


def test_the_ops_card(acme):
    with acme.scope():
        b.version(acme, days_ago=5, expires_on=b.today(acme) + dt.timedelta(days=20))
    response = acme.client(Role.OPS_ADMIN).get("/")
    cards = {c["card"].key: c for c in response.context["cards"]}
    texts = [count.text for count in cards["onboarding.agreements"]["counts"]]
    assert "2 partners held back by an agreement not accepted" in texts
    assert "1 agreement version expiring within 60 days" in texts
    # A prospect is not in the program yet: not counted.
    with acme.scope():
        acme.other_partner.status = "prospect"
        acme.other_partner.save(update_fields=["status"])
    response = acme.client(Role.OPS_ADMIN).get("/")
    cards = {c["card"].key: c for c in response.context["cards"]}
    texts = [count.text for count in cards["onboarding.agreements"]["counts"]]
    assert "1 partner held back by an agreement not accepted" in texts
    assert "onboarding.agreements" not in {
        c["card"].key for c in acme.client(Role.CHANNEL_MANAGER).get("/").context["cards"]
    }
