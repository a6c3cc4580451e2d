"""The vendor's direct pipeline: CSV import in the tenant admin (dry run with
per-row problems, then all or nothing; an existing external id is updated),
and the admin form, both normalizing the customer the way conflict checks
compare it."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dealreg import direct_import
from dealreg.models import Conflict, DirectOpportunity, ProductLine
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("tenant_admin:dealreg_directopportunity_import")
CHANGELIST = reverse("tenant_admin:dealreg_directopportunity_changelist")
ADD = reverse("tenant_admin:dealreg_directopportunity_add")


def csv_text(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def row(external_id: str, customer: str, **extra) -> dict:
    values = {
        "external_id": external_id,
        "customer_name": customer,
        "customer_domain": "",
        "customer_country": "US",
        "products": "fw",
        "owner_name": "Dana Direct",
        "owner_email": "dana@vendor.example",
        "stage": "proposal",
        "amount": "50000.00",
        "currency": "",
        "close_date": "2030-06-30",
    }
    values.update(extra)
    return values


def upload(client, content: str | bytes):
    raw = content.encode() if isinstance(content, str) else content
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile("pipeline.csv", raw, "text/csv")})


def confirm(client, response):
    return client.post(IMPORT_URL, {"confirm": "1", "token": response.context["token"]})


def opportunities(world) -> dict[str, DirectOpportunity]:
    with world.scope():
        return {o.external_id: o for o in DirectOpportunity.objects.all()}


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


class TestDryRun:
    def test_every_row_gets_its_problems_and_nothing_is_written(self, acme, products):
        text = csv_text(
            [
                row("CRM-1", "Good Customer Inc.", customer_domain="https://www.good.example/x"),
                row("CRM-2", "Bad Product", products="fw; laser"),
                row("CRM-3", "Bad Domain", customer_domain="not a domain"),
                row("CRM-4", "Bad Stage", stage="won-ish"),
                row("CRM-5", "Bad Amount", amount="12,5"),
                row("CRM-6", "Bad Date", close_date="30/06/2030"),
                row("CRM-1", "Repeated Id"),
                row("", "", owner_email="not-an-email"),
                row("CRM-9", "Bad Country", customer_country="Atlantis", currency="dollars"),
            ]
        )
        response = upload(acme.client("ops_admin"), text)
        assert response.status_code == 200
        result = response.context["result"]
        assert not result.ok
        errors = {r.line: r.errors for r in result.rows}
        assert errors[2] == []
        assert errors[3] == [
            "products: “laser” is not a product line code or name (edr, fw, sdwan)."
        ]
        assert errors[4] == [
            "customer_domain: “not a domain” is not a valid web domain (expected e.g. example.com)."
        ]
        assert errors[5][0].startswith("stage: “won-ish” is not one of: prospecting,")
        assert errors[6][0].startswith("amount: “12,5” is not an amount")
        assert errors[7] == ["close_date: “30/06/2030” is not a date; write it as 2026-09-30."]
        assert errors[8] == ["external_id: “CRM-1” is already on line 2 of this file."]
        assert "external_id: this column is required." in errors[9]
        assert "customer_name: this column is required." in errors[9]
        assert "owner_email: Enter a valid email address." in errors[9]
        assert len(errors[10]) == 2
        assert result.error_count == 8
        html = response.content.decode()
        assert "8 rows have problems" in html
        assert "“laser” is not a product line code or name" in html
        assert 'name="confirm"' not in html
        assert "token" not in response.context
        assert opportunities(acme) == {}

    @pytest.mark.parametrize(
        ("text", "error"),
        [
            ("customer_name,stage\nA,proposal\n", "Missing required column: external_id."),
            ("external_id,customer_name,colour\n1,A,red\n", "Unknown column: colour."),
            ("external_id,customer_name\n", "The file has a header but no rows."),
            ("", "The file is empty."),
        ],
    )
    def test_file_problems(self, acme, text, error):
        result = upload(acme.client("ops_admin"), text or "\n").context["result"]
        assert any(e.startswith(error) for e in result.errors), result.errors

    def test_a_file_that_is_not_utf8_is_refused_with_a_hint(self, acme):
        response = upload(
            acme.client("ops_admin"), "external_id,customer_name\n1,Café\n".encode("cp1252")
        )
        assert "save it as “CSV UTF-8”" in response.content.decode()
        assert "result" not in response.context


class TestImport:
    def test_confirm_imports_every_row_normalized(self, acme, products):
        text = csv_text(
            [
                row(
                    "CRM-1",
                    "  Initech Corporation, Inc. ",
                    customer_domain="https://www.Initech.example/about",
                    products="fw; SD-WAN",
                ),
                row("CRM-2", "Hooli", products="", amount="", stage="", customer_country=""),
                row("CRM-3", "Vandelay", stage="Won", products="Firewall, edr"),
                row("CRM-4", "Kramerica", stage="closed-lost"),
            ]
        )
        client = acme.client("ops_admin")
        preview = upload(client, text)
        assert preview.context["result"].ok
        assert [r.action for r in preview.context["result"].rows] == ["new"] * 4
        assert "Ready to import 4 new and update 0 existing" in preview.content.decode()
        response = confirm(client, preview)
        assert response.status_code == 302
        assert response["Location"] == CHANGELIST
        assert "Imported 4 new and updated 0 direct opportunities." in messages_of(response)
        got = opportunities(acme)
        initech = got["CRM-1"]
        assert initech.customer_name == "Initech Corporation, Inc."
        assert initech.customer_name_normalized == "initech"
        assert initech.customer_domain == "initech.example"
        assert initech.stage == "proposal"
        assert initech.amount == Decimal("50000.00")
        assert initech.currency == "USD"  # the tenant's base currency
        assert str(initech.close_date) == "2030-06-30"
        assert initech.customer_country.code == "US"
        with acme.scope():
            assert sorted(p.code for p in initech.product_lines.all()) == ["fw", "sdwan"]
            hooli = got["CRM-2"]
            assert hooli.stage == "prospecting"
            assert hooli.amount is None and hooli.currency == ""
            assert list(hooli.product_lines.all()) == []
            assert got["CRM-3"].stage == "closed_won"
            assert sorted(p.code for p in got["CRM-3"].product_lines.all()) == ["edr", "fw"]
            assert got["CRM-4"].stage == "closed_lost"
            entry = AuditEntry.objects.get(action="dealreg.direct_imported")
        assert entry.data == {"created": 4, "updated": 0}

    def test_reimporting_an_external_id_updates_it(self, acme, products):
        client = acme.client("ops_admin")
        confirm(client, upload(client, csv_text([row("CRM-1", "Initech", products="fw")])))
        first = opportunities(acme)["CRM-1"]
        text = csv_text(
            [
                row("CRM-1", "Initech Corp", stage="Negotiation", amount="75000", products="edr"),
                row("CRM-2", "Hooli"),
            ]
        )
        preview = upload(client, text)
        assert [r.action for r in preview.context["result"].rows] == ["update", "new"]
        response = confirm(client, preview)
        assert "Imported 1 new and updated 1 direct opportunities." in messages_of(response)
        got = opportunities(acme)
        assert len(got) == 2
        updated = got["CRM-1"]
        assert updated.pk == first.pk
        assert updated.stage == "negotiation"
        assert updated.amount == Decimal("75000.00")
        assert updated.customer_name_normalized == "initech"
        assert updated.imported_at > first.imported_at
        with acme.scope():
            assert [p.code for p in updated.product_lines.all()] == ["edr"]

    def test_external_ids_are_per_tenant(self, acme, globex, products):
        for world in (acme, globex):
            client = world.client("ops_admin")
            confirm(client, upload(client, csv_text([row("CRM-1", f"{world.tenant.name} buyer")])))
        assert opportunities(acme)["CRM-1"].customer_name == "Acme Corp buyer"
        assert opportunities(globex)["CRM-1"].customer_name == "Globex Corp buyer"

    def test_all_or_nothing_when_the_file_no_longer_validates(self, acme, products):
        client = acme.client("ops_admin")
        preview = upload(
            client, csv_text([row("CRM-1", "Initech"), row("CRM-2", "Hooli", products="sdwan")])
        )
        assert preview.context["result"].ok
        with acme.scope():
            ProductLine.objects.filter(code="sdwan").delete()
        response = confirm(client, preview)
        assert response.status_code == 200
        assert "Nothing was imported: the file no longer validates." in messages_of(response)
        assert response.context["result"].rows[1].errors
        assert opportunities(acme) == {}
        with acme.scope():
            assert not AuditEntry.objects.filter(action="dealreg.direct_imported").exists()

    def test_the_token_works_once_and_for_its_owner_only(self, acme, products):
        with acme.scope():
            from tests import factories

            other_ops = factories.make_member(acme.tenant, Role.OPS_ADMIN, email="ops2@acme.test")
        client = acme.client("ops_admin")
        preview = upload(client, csv_text([row("CRM-1", "Initech")]))
        from django.test import Client

        other = Client(HTTP_HOST=acme.host)
        other.force_login(other_ops.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        stolen = confirm(other, preview)
        assert stolen.status_code == 302
        assert stolen["Location"] == IMPORT_URL
        assert opportunities(acme) == {}
        assert confirm(client, preview)["Location"] == CHANGELIST
        again = confirm(client, preview)
        assert again["Location"] == IMPORT_URL
        assert (
            "The preview has expired or was already imported; upload the file again."
            in messages_of(again)
        )
        assert len(opportunities(acme)) == 1

    def test_pending_registrations_are_checked_against_the_new_pipeline(
        self, acme, submit_as, django_capture_on_commit_callbacks
    ):
        registration = submit_as(acme)  # Initech Corporation, initech.example, Firewall
        with acme.scope():
            assert not Conflict.objects.filter(registration=registration).exists()
        client = acme.client("ops_admin")
        preview = upload(
            client, csv_text([row("CRM-1", "Initech", customer_domain="initech.example")])
        )
        with django_capture_on_commit_callbacks(execute=True):
            confirm(client, preview)
        with acme.scope():
            conflict = Conflict.objects.get(registration=registration)
        assert conflict.direct_opportunity.external_id == "CRM-1"
        assert conflict.reasons[:2] == ["direct opportunity", "same domain"]


class TestAccess:
    @pytest.mark.parametrize(
        "role", ["channel_manager", "finance", "executive", "partner_admin", "partner_user"]
    )
    def test_only_ops_import(self, acme, products, role):
        client = acme.client(role)
        assert client.get(IMPORT_URL).status_code == 403
        assert upload(client, csv_text([row("CRM-1", "Initech")])).status_code == 403
        assert client.post(IMPORT_URL, {"confirm": "1", "token": "x"}).status_code == 403
        assert opportunities(acme) == {}

    @pytest.mark.parametrize("role", ["ops_admin", "channel_manager", "executive"])
    def test_who_sees_the_pipeline(self, acme, role):
        response = acme.client(role).get(CHANGELIST)
        assert response.status_code == 200
        assert ("Import CSV" in response.content.decode()) is (role == "ops_admin")

    def test_finance_does_not_see_the_pipeline(self, acme):
        assert acme.client("finance").get(CHANGELIST).status_code == 403

    def test_another_tenants_opportunity_is_404(self, acme, globex, products):
        client = acme.client("ops_admin")
        confirm(client, upload(client, csv_text([row("CRM-1", "Initech")])))
        opportunity = opportunities(acme)["CRM-1"]
        change = reverse("tenant_admin:dealreg_directopportunity_change", args=[opportunity.pk])
        intruder = globex.client("ops_admin")
        assert intruder.get(change).status_code == 404
        assert list(intruder.get(CHANGELIST).context["cl"].result_list) == []


class TestAdminForm:
    def post(self, world, **overrides):
        data = {
            "external_id": "CRM-77",
            "customer_name": "Umbrella Corporation",
            "customer_domain": "WWW.Umbrella.example",
            "customer_country": "US",
            "owner_name": "",
            "owner_email": "",
            "stage": "qualification",
            "amount": "1200.50",
            "currency": "",
            "close_date": "",
        }
        data.update(overrides)
        return world.client("ops_admin").post(ADD, data)

    def test_the_form_normalizes_like_the_import(self, acme, products):
        response = self.post(acme, product_lines=[str(products["acme"]["fw"].pk)])
        assert response.status_code == 302
        saved = opportunities(acme)["CRM-77"]
        assert saved.customer_name_normalized == "umbrella"
        assert saved.customer_domain == "umbrella.example"
        assert saved.currency == "USD"

    def test_form_errors(self, acme, globex, products):
        response = self.post(
            acme,
            customer_domain="nope",
            currency="dollars",
            product_lines=[str(products["globex"]["fw"].pk)],
        )
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert "is not a valid web domain" in errors["customer_domain"][0]
        assert "currency" in errors
        assert "product_lines" in errors
        assert self.post(acme).status_code == 302
        response = self.post(acme, customer_name="Another")
        errors = response.context["adminform"].form.non_field_errors()
        assert errors == ["Direct opportunity with this Tenant and External id already exists."]
        assert len(opportunities(acme)) == 1


def test_parse_is_read_only(acme, products, django_assert_max_num_queries):
    with acme.scope():
        with django_assert_max_num_queries(3):
            result = direct_import.parse_direct_csv(
                acme.tenant, csv_text([row(f"CRM-{n}", f"Customer {n}") for n in range(50)])
            )
        assert result.ok
        assert DirectOpportunity.objects.count() == 0
