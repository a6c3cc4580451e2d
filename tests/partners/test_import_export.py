"""Partner CSV import (dry run, confirm, all or nothing) and export
(filtered changelist, round trip, spreadsheet-safe cells), through the
tenant admin and the services behind it."""

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from partners import services
from partners.models import Contact, Partner
from prm.tenancy.models import AuditEntry, Membership
from prm.tenancy.roles import Role
from tests import factories

from .conftest import admin_url

pytestmark = pytest.mark.django_db

IMPORT_URL = admin_url("import")
EXPORT_URL = admin_url("export")


def csv_text(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = columns or list(rows[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def row(name: str, **extra) -> dict:
    values = {
        "name": name,
        "type": "reseller",
        "country": "US",
        "tier": "Gold",
        "website": "",
        "contact_name": "",
        "contact_email": "",
    }
    values.update(extra)
    return values


def upload(client, content: str | bytes, filename: str = "partners.csv"):
    raw = content.encode() if isinstance(content, str) else content
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile(filename, raw, "text/csv")})


def counts(world) -> tuple[int, int, int]:
    with world.scope():
        return Partner.objects.count(), Contact.objects.count(), AuditEntry.objects.count()


def parse_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


class TestDryRun:
    def test_every_row_gets_its_problems_and_nothing_is_written(self, acme):
        text = csv_text(
            [
                row("Good Partner", website="good.example"),
                row("Bad Type", type="wholesaler"),
                row("Unknown Tier", tier="Platinum"),
                row("Unknown Country", country="Atlantis"),
                row("ACME reseller one, Inc."),  # the existing "Acme Reseller One"
                row("Good Partner Ltd"),  # line 2 again
                row("Same Site", website="https://www.good.example/x"),  # line 2's domain
            ]
        )
        before = counts(acme)
        response = upload(acme.client("ops_admin"), text)
        assert response.status_code == 200
        result = response.context["result"]
        assert not result.ok
        errors = {r.line: r.errors for r in result.rows}
        assert errors[2] == []
        assert len(errors[3]) == 1
        assert errors[3][0].startswith("type: Type “wholesaler” is not one of: reseller,")
        assert errors[4] == ["tier: “Platinum” is not a tier of this program (Silver, Gold)."]
        assert errors[5] == ["country: Country “Atlantis” is not a known country name or ISO code."]
        assert errors[6] == [
            "name: A partner with this name already exists: “Acme Reseller One” (active)."
        ]
        assert errors[7] == ["name: same partner as line 2 of this file."]
        assert errors[8] == ["website: same domain as line 2 of this file."]
        assert result.error_count == 6
        html = response.content.decode()
        assert "6 rows have problems" in html
        assert "“Platinum” is not a tier of this program" in html
        assert 'name="confirm"' not in html
        assert "token" not in response.context
        assert counts(acme) == before

    def test_missing_required_column_is_a_file_error(self, acme):
        text = "name,type,tier\nNew One,reseller,Gold\n"
        response = upload(acme.client("ops_admin"), text)
        result = response.context["result"]
        assert result.errors == ["Missing required column: country."]
        assert result.rows == []
        assert "Missing required column: country." in response.content.decode()
        assert 'name="confirm"' not in response.content.decode()

    def test_unknown_and_repeated_columns_are_file_errors(self, acme):
        text = "name,type,country,tier,tier,colour\nNew One,reseller,US,Gold,Gold,red\n"
        result = upload(acme.client("ops_admin"), text).context["result"]
        assert any(e.startswith("Unknown column: colour.") for e in result.errors)
        assert "Column named more than once: tier." in result.errors

    def test_non_utf8_file_is_refused_with_a_hint(self, acme):
        text = csv_text([row("Société Générale")])
        before = counts(acme)
        response = upload(acme.client("ops_admin"), text.encode("latin-1"))
        assert response.status_code == 200
        assert "result" not in response.context
        assert response.context["form"].errors["file"] == [
            "The file is not UTF-8 text; save it as “CSV UTF-8” and try again."
        ]
        assert counts(acme) == before

    def test_utf8_with_bom_from_excel_is_read(self, acme):
        text = "\ufeff" + csv_text([row("Société Générale")])
        result = upload(acme.client("ops_admin"), text.encode("utf-8")).context["result"]
        assert result.ok
        assert result.rows[0].values["name"] == "Société Générale"

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("\r\n", "The file is empty."),
            ("name,type,country,tier\n", "The file has a header but no rows."),
            ("name,type,country,tier\nA\x00B,reseller,US,Gold\n", "The file contains NUL"),
            (
                "name,type,country,tier\n" + "x" * 200_000 + ",reseller,US,Gold\n",
                "The file is not valid CSV",
            ),
        ],
    )
    def test_unusable_files_are_file_errors(self, acme, content, message):
        response = upload(acme.client("ops_admin"), content)
        assert response.status_code == 200
        result = response.context["result"]
        assert result.errors[0].startswith(message)
        assert not result.ok

    def test_utf16_is_refused(self, acme):
        text = csv_text([row("Wide Partner")])
        response = upload(acme.client("ops_admin"), text.encode("utf-16-le"))
        assert response.status_code == 200
        assert response.context["result"].errors[0].startswith("The file contains NUL")
        assert 'name="confirm"' not in response.content.decode()

    def test_an_empty_upload_is_a_form_error(self, acme):
        response = upload(acme.client("ops_admin"), b"")
        assert response.context["form"].errors["file"] == ["The submitted file is empty."]
        assert "result" not in response.context

    def test_values_the_database_would_refuse_are_found_in_the_dry_run(self, acme):
        text = csv_text(
            [
                row("X" * 201),
                row("Bad Contact", contact_name="Pat", contact_email="not-an-email"),
                row("Half Contact", contact_name="Pat"),
                row("Long Phone", phone="1" * 41),
                row("Bad Website", website="http://localhost/"),
            ],
            columns=[*row("x"), "phone"],
        )
        result = upload(acme.client("ops_admin"), text).context["result"]
        errors = {r.line: r.errors for r in result.rows}
        assert errors[2] == ["name: Ensure this value has at most 200 characters (it has 201)."]
        assert errors[3] == ["contact_email: Enter a valid email address."]
        assert errors[4] == ["contact: give both contact_name and contact_email, or neither."]
        assert errors[5] == ["phone: Ensure this value has at most 40 characters (it has 41)."]
        assert len(errors[6]) == 1
        assert "not a valid web domain" in errors[6][0]

    def test_region_and_channel_manager_are_looked_up_in_this_tenant(self, acme, globex):
        text = csv_text(
            [
                row("By Code", region="na", channel_manager_email="channel.manager@acme.test"),
                row("By Name", region="NA"),
                row("No Region", region="emea"),
                row("Globex Manager", channel_manager_email="channel.manager@globex.test"),
                row("Not A Manager", channel_manager_email="ops.admin@acme.test"),
            ],
            columns=[*row("x"), "region", "channel_manager_email"],
        )
        result = upload(acme.client("ops_admin"), text).context["result"]
        errors = {r.line: r.errors for r in result.rows}
        assert errors[2] == errors[3] == []
        assert errors[4] == ["region: “emea” is not a region code or name."]
        assert errors[5] == [
            "channel_manager_email: channel.manager@globex.test is not an active channel "
            "manager of this program."
        ]
        assert len(errors[6]) == 1

    def test_a_valid_file_shows_the_confirm_form_and_writes_nothing(self, acme):
        text = csv_text([row("First New"), row("Second New", website="second.example")])
        before = counts(acme)
        response = upload(acme.client("ops_admin"), text)
        html = response.content.decode()
        assert response.context["result"].ok
        assert "Ready to import 2 partners" in html
        assert 'name="confirm"' in html
        assert 'value="Import 2 partners"' in html
        assert response.context["token"]
        assert counts(acme) == before


class TestConfirm:
    FILE = [
        row(
            "Fabrikam",
            website="fabrikam.example",
            contact_name="Fay Brik",
            contact_email="Fay@Fabrikam.example",
            contact_title="CEO",
            channel_manager_email="channel.manager@acme.test",
            status="Active",
        ),
        row("Contoso", type="Distributor", country="Germany", tier="silver"),
        row("Tailspin Toys", type="msp", country="CAN"),
    ]

    def _preview(self, client):
        columns = [*row("x"), "contact_title", "channel_manager_email", "status"]
        response = upload(client, csv_text(self.FILE, columns=columns))
        assert response.context["result"].ok
        return response.context["token"]

    def test_confirm_imports_every_row_with_contacts(self, acme):
        client = acme.client("ops_admin")
        token = self._preview(client)
        response = client.post(IMPORT_URL, {"confirm": "Import", "token": token})
        assert response.status_code == 302
        assert response["Location"] == admin_url("changelist")
        assert "Imported 3 partners." in messages_of(response)
        with acme.scope():
            fabrikam = Partner.objects.get(name="Fabrikam")
            assert fabrikam.domain == "fabrikam.example"
            assert fabrikam.website == "https://fabrikam.example"
            assert fabrikam.status == Partner.Status.ACTIVE
            assert fabrikam.region.code == "na"
            assert fabrikam.channel_manager == acme["channel_manager"].user
            assert acme["channel_manager"].has_perm("partners.change_partner", fabrikam)
            contact = fabrikam.contacts.get()
            assert (contact.name, contact.email, contact.title, contact.is_primary) == (
                "Fay Brik",
                "fay@fabrikam.example",
                "CEO",
                True,
            )
            contoso = Partner.objects.get(name="Contoso")
            assert contoso.partner_type == Partner.Type.DISTRIBUTOR
            assert contoso.country.code == "DE"
            assert contoso.tier.name == "Silver"
            assert contoso.status == Partner.Status.PROSPECT
            assert not contoso.contacts.exists()
            assert Partner.objects.get(name="Tailspin Toys").country.code == "CA"
            entry = AuditEntry.objects.get(action="partner.imported")
            assert entry.actor == acme["ops_admin"].user
            assert entry.data == {"created": 3}
            assert AuditEntry.objects.filter(action="partner.created").count() == 3 + 2

    def test_if_one_row_no_longer_validates_nothing_is_imported(self, acme):
        client = acme.client("ops_admin")
        token = self._preview(client)
        with acme.scope():
            # Someone adds Contoso between the preview and the confirmation.
            factories.make_partner(acme.tenant, "Contoso GmbH")
        before = counts(acme)
        response = client.post(IMPORT_URL, {"confirm": "Import", "token": token})
        assert response.status_code == 200
        assert counts(acme) == before
        with acme.scope():
            assert not Partner.objects.filter(name__in=["Fabrikam", "Tailspin Toys"]).exists()
            assert not Contact.objects.filter(email="fay@fabrikam.example").exists()
        html = response.content.decode()
        assert "Nothing was imported: the file no longer validates." in html
        assert "A partner with this name already exists: “Contoso GmbH”" in html
        assert 'name="confirm"' not in html

    def test_a_failure_while_writing_rolls_back_the_rows_before_it(self, acme, monkeypatch):
        client = acme.client("ops_admin")
        token = self._preview(client)
        real_create = services.create_partner

        def create_but_refuse_tailspin(*, tenant, by, data):
            if data["name"] == "Tailspin Toys":
                raise services.PartnerError("A partner with this name or domain was just added.")
            return real_create(tenant=tenant, by=by, data=data)

        monkeypatch.setattr(services, "create_partner", create_but_refuse_tailspin)
        before = counts(acme)
        response = client.post(IMPORT_URL, {"confirm": "Import", "token": token})
        assert response.status_code == 200
        assert counts(acme) == before
        assert "was just added" in response.content.decode()

    @pytest.mark.parametrize("token", ["", "made-up-token"])
    def test_an_unknown_preview_imports_nothing(self, acme, token):
        before = counts(acme)
        response = acme.client("ops_admin").post(IMPORT_URL, {"confirm": "Import", "token": token})
        assert response.status_code == 302
        assert response["Location"] == IMPORT_URL
        assert (
            "The preview has expired or was already imported; upload the file again."
            in messages_of(response)
        )
        assert counts(acme) == before

    def test_a_preview_is_confirmed_once(self, acme):
        client = acme.client("ops_admin")
        token = self._preview(client)
        assert client.post(IMPORT_URL, {"confirm": "Import", "token": token}).status_code == 302
        after_first = counts(acme)
        again = client.post(IMPORT_URL, {"confirm": "Import", "token": token})
        assert again.status_code == 302
        assert (
            "The preview has expired or was already imported; upload the file again."
            in messages_of(again)
        )
        assert counts(acme) == after_first

    def test_a_preview_belongs_to_its_tenant_and_person(self, acme, globex):
        token = self._preview(acme.client("ops_admin"))
        with acme.scope():
            other_ops = factories.make_member(acme.tenant, Role.OPS_ADMIN)
        other = acme.client()
        other.force_login(other_ops.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        before = counts(acme)
        assert other.post(IMPORT_URL, {"confirm": "Import", "token": token}).status_code == 302
        globex_before = counts(globex)
        globex.client("ops_admin").post(IMPORT_URL, {"confirm": "Import", "token": token})
        assert counts(acme) == before
        assert counts(globex) == globex_before
        # Still usable by the person who checked it.
        acme.client("ops_admin").post(IMPORT_URL, {"confirm": "Import", "token": token})
        assert counts(acme)[0] == before[0] + 3

    def test_confirming_a_large_file_does_not_post_it_back(self, acme, settings):
        # Uploaded files do not count against DATA_UPLOAD_MAX_MEMORY_SIZE;
        # form fields do, so the confirmation must not carry the file.
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
        rows = [row(f"Large File Partner {i:03d} " + "x" * 60) for i in range(40)]
        client = acme.client("ops_admin")
        response = upload(client, csv_text(rows))
        assert len(csv_text(rows)) > 2 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        assert response.context["result"].ok
        confirm = client.post(IMPORT_URL, {"confirm": "Import", "token": response.context["token"]})
        assert confirm.status_code == 302
        assert "Imported 40 partners." in messages_of(confirm)

    def test_import_goes_to_the_request_tenant(self, acme, globex):
        client = globex.client("ops_admin")
        token = self._preview_globex(client)
        client.post(IMPORT_URL, {"confirm": "Import", "token": token})
        with globex.scope():
            assert Partner.objects.filter(name="Contoso").exists()
        with acme.scope():
            assert not Partner.objects.filter(name="Contoso").exists()

    def _preview_globex(self, client):
        response = upload(client, csv_text([row("Contoso")]))
        assert response.context["result"].ok
        return response.context["token"]


class TestImportPermissions:
    @pytest.mark.parametrize("role", ["channel_manager", "finance", "executive"])
    def test_only_ops_admin_may_import(self, acme, role):
        client = acme.client(role)
        token = TestConfirm()._preview(acme.client("ops_admin"))
        before = counts(acme)
        assert client.get(IMPORT_URL).status_code == 403
        assert upload(client, csv_text([row("Sneaky")])).status_code == 403
        response = client.post(IMPORT_URL, {"confirm": "Import", "token": token})
        assert response.status_code == 403
        assert counts(acme) == before

    @pytest.mark.parametrize("role", ["partner_admin", "partner_user"])
    def test_partner_roles_get_403(self, acme, role):
        assert acme.client(role).get(IMPORT_URL).status_code == 403

    def test_anonymous_is_sent_to_log_in(self, acme):
        response = acme.client().get(IMPORT_URL)
        assert response.status_code == 302
        assert "/login/" in response["Location"]

    def test_changelist_links_import_only_for_ops(self, acme):
        ops_html = acme.client("ops_admin").get(admin_url("changelist")).content.decode()
        cm_html = acme.client("channel_manager").get(admin_url("changelist")).content.decode()
        assert IMPORT_URL in ops_html
        assert IMPORT_URL not in cm_html
        assert EXPORT_URL in cm_html


class TestExport:
    def test_export_has_the_import_columns_and_is_an_attachment(self, acme):
        response = acme.client("ops_admin").get(EXPORT_URL)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="acme-partners-')
        header = response.content.decode().splitlines()[0]
        assert header.split(",") == services.CSV_COLUMNS
        rows = parse_csv(response)
        one = next(r for r in rows if r["name"] == "Acme Reseller One")
        assert one == {
            **one,
            "website": "https://one.acme-partners.test",
            "type": "reseller",
            "country": "US",
            "region": "na",
            "tier": "Gold",
            "status": "active",
            "channel_manager_email": "channel.manager@acme.test",
            "contact_name": "Contact Person",
        }

    def test_export_follows_the_changelist_filter(self, acme):
        with acme.scope():
            services.update_partner(acme.other_partner, by=None, data={"status": "suspended"})
        client = acme.client("ops_admin")
        active = parse_csv(client.get(EXPORT_URL, {"status__exact": "active"}))
        suspended = parse_csv(client.get(EXPORT_URL, {"status__exact": "suspended"}))
        assert [r["name"] for r in active] == ["Acme Reseller One"]
        assert [r["name"] for r in suspended] == ["Acme Distributor Two"]
        searched = parse_csv(client.get(EXPORT_URL, {"q": "distributor"}))
        assert [r["name"] for r in searched] == ["Acme Distributor Two"]

    def test_channel_manager_exports_their_own_partners(self, acme):
        rows = parse_csv(acme.client("channel_manager").get(EXPORT_URL, {"manager": "me"}))
        assert [r["name"] for r in rows] == ["Acme Reseller One"]

    def test_a_bad_filter_is_not_a_server_error(self, acme):
        response = acme.client("ops_admin").get(EXPORT_URL, {"tier__id__exact": "not-a-uuid"})
        assert response.status_code == 400
        body = response.content.decode()
        assert 'data-testid="error-page"' in body
        assert "The file was not made: a filter in the address names nothing here" in body

    def test_a_bad_filter_on_the_list_says_so_over_the_whole_list(self, acme):
        client = acme.client("ops_admin")
        response = client.get(
            "/admin/partners/partner/", {"tier__id__exact": "not-a-uuid"}, follow=True
        )
        assert response.status_code == 200
        assert response.redirect_chain == [("/admin/partners/partner/?e=1", 302)]
        assert [str(m) for m in response.context["messages"]] == [
            "The list could not be filtered by “not-a-uuid”: it names nothing here (a link "
            "may have been cut short or edited). Showing the whole list."
        ]
        assert len(response.context["cl"].result_list) == 2

    @pytest.mark.parametrize("role", ["ops_admin", "channel_manager", "executive"])
    def test_roles_that_may_export(self, acme, role):
        response = acme.client(role).get(EXPORT_URL)
        assert response.status_code == 200
        assert len(parse_csv(response)) == 2

    @pytest.mark.parametrize("role", ["finance", "partner_admin", "partner_user"])
    def test_roles_that_may_not_export(self, acme, role):
        assert acme.client(role).get(EXPORT_URL).status_code == 403

    def test_export_never_contains_another_tenants_partners(self, personas):
        acme, globex = personas["acme"], personas["globex"]
        for world, other in ((acme, globex), (globex, acme)):
            client = world.client("ops_admin")
            text = client.get(EXPORT_URL).content.decode()
            assert other.tenant.slug not in text.lower()
            assert world.tenant.slug in text.lower()
            assert client.get(EXPORT_URL, {"q": other.partner.name}).content.decode() == (
                ",".join(services.CSV_COLUMNS) + "\r\n"
            )
            with other.scope():
                tier_id = other.partner.tier_id
            by_tier = client.get(EXPORT_URL, {"tier__id__exact": str(tier_id)})
            assert other.partner.name not in by_tier.content.decode()

    def test_export_selected_action(self, acme):
        response = acme.client("executive").post(
            admin_url("changelist"),
            {
                "action": "export_selected",
                "index": "0",
                "_selected_action": [str(acme.other_partner.pk)],
            },
        )
        assert response.status_code == 200
        assert [r["name"] for r in parse_csv(response)] == ["Acme Distributor Two"]

    def test_export_then_import_into_another_tenant_round_trips(self, acme, globex):
        manager = acme["channel_manager"].user
        with acme.scope():
            extra = factories.make_partner(
                acme.tenant,
                '=HYPERLINK("http://evil.example","click")',
                legal_name="@Risky Holdings Ltd",
                website="https://risky.example",
                phone="+1 (555) 010-0100",
                status="onboarding",
                partner_type="msp",
                country="CA",
            )
            Contact.objects.create(
                tenant=acme.tenant,
                partner=extra,
                name="-Dash Person",
                email="dash@risky.example",
                title="+CFO",
                phone="-",
                is_primary=True,
            )
        with globex.scope():
            # The same person manages partners for both vendors.
            Membership.objects.create(tenant=globex.tenant, user=manager, role=Role.CHANNEL_MANAGER)

        exported = acme.client("executive").get(EXPORT_URL).content
        client = globex.client("ops_admin")
        preview = upload(client, exported)
        assert preview.context["result"].ok, [r.errors for r in preview.context["result"].rows]
        client.post(IMPORT_URL, {"confirm": "Import", "token": preview.context["token"]})

        reexported = client.get(EXPORT_URL, {"q": "acme-partners"}).content
        reexported_risky = client.get(EXPORT_URL, {"q": "risky"}).content
        original = parse_csv_bytes(exported)
        again = parse_csv_bytes(reexported) + parse_csv_bytes(reexported_risky)
        assert sorted(again, key=lambda r: r["name"]) == sorted(original, key=lambda r: r["name"])
        with globex.scope():
            risky = Partner.objects.get(domain="risky.example")
            assert risky.name == '=HYPERLINK("http://evil.example","click")'
            assert risky.legal_name == "@Risky Holdings Ltd"
            assert risky.contacts.get().title == "+CFO"
            assert globex["ops_admin"].tenant == risky.tenant


def parse_csv_bytes(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode())))


class TestSpreadsheetSafety:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("=1+1", "'=1+1"),
            ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
            ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
            ("\tindented", "'\tindented"),
            ("\rcarriage", "'\rcarriage"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("+CFO", "'+CFO"),
            ("-Dash", "'-Dash"),
            ("+1 (555) 010-0100", "+1 (555) 010-0100"),
            ("+49 30 1234-567", "+49 30 1234-567"),
            ("-42", "-42"),
            ("-3.5", "-3.5"),
            ("Acme = good", "Acme = good"),
            ("mail@example.com", "mail@example.com"),
            ("", ""),
        ],
    )
    def test_spreadsheet_safe(self, value, expected):
        assert services.spreadsheet_safe(value) == expected

    def test_exported_cells_are_neutralized(self, acme):
        with acme.scope():
            partner = factories.make_partner(
                acme.tenant,
                "=cmd|' /C calc'!A0",
                legal_name="+SUM(1)",
                phone="+1 555 0100",
            )
            Contact.objects.create(
                tenant=acme.tenant, partner=partner, name="@Evil", email="e@evil.example"
            )
        rows = parse_csv(acme.client("ops_admin").get(EXPORT_URL, {"q": "cmd"}))
        assert len(rows) == 1
        assert rows[0]["name"] == "'=cmd|' /C calc'!A0"
        assert rows[0]["legal_name"] == "'+SUM(1)"
        assert rows[0]["phone"] == "+1 555 0100"
        assert rows[0]["contact_name"] == "'@Evil"
        for cell in rows[0].values():
            assert not cell.startswith(("=", "@", "\t", "\r")), cell

    def test_import_reads_neutralized_cells_back(self, in_acme):
        text = csv_text(
            [row("'=Formula Partner", legal_name="'+Plus Ltd")], columns=[*row("x"), "legal_name"]
        )
        result = services.parse_partner_csv(in_acme.tenant, text)
        assert result.ok
        assert result.rows[0].data["name"] == "=Formula Partner"
        assert result.rows[0].data["legal_name"] == "+Plus Ltd"


class TestImportService:
    def test_parse_writes_nothing(self, in_acme):
        before = (Partner.objects.count(), AuditEntry.objects.count())
        result = services.parse_partner_csv(in_acme.tenant, csv_text([row("Dry Only")]))
        assert result.ok
        assert (Partner.objects.count(), AuditEntry.objects.count()) == before

    def test_import_service_refuses_an_invalid_file_and_writes_nothing(self, in_acme):
        before = Partner.objects.count()
        result = services.import_partners(
            tenant=in_acme.tenant,
            by=None,
            text=csv_text([row("Fine Partner"), row("Bad", tier="Nope")]),
        )
        assert not result.ok
        assert result.created == 0
        assert Partner.objects.count() == before

    def test_too_many_rows(self, in_acme, monkeypatch):
        monkeypatch.setattr(services, "MAX_IMPORT_ROWS", 2)
        result = services.parse_partner_csv(
            in_acme.tenant, csv_text([row("One"), row("Two"), row("Three")])
        )
        assert result.errors == ["The file has more than 2 rows; split it."]
        assert not result.ok

    def test_blank_lines_are_skipped(self, in_acme):
        text = csv_text([row("One")]) + ",,,,,,\r\n" + csv_text([row("Two")]).split("\r\n", 1)[1]
        result = services.parse_partner_csv(in_acme.tenant, text)
        assert result.ok
        assert [r.values["name"] for r in result.rows] == ["One", "Two"]
        assert [r.line for r in result.rows] == [2, 4]
