"""Statements and disputes in the partner portal (and a partner's statement
in the admin): pages, paging, CSV and PDF downloads, the dispute flow,
isolation between partners and tenants, and a query count independent of
the number of lines."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from incentives import disputes, ledger, statement_export, statements
from incentives.models import Dispute, DisputeMessage, LedgerEntry, Statement
from prm.tenancy.roles import STAFF_ROLES, Role
from tests import factories

from .conftest import make_plan, make_won_deal
from .test_statements import at, book, history

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
D = Decimal
FEBRUARY = "?period=2026-02-01"


def many_lines(world, count: int, *, month=(2026, 3), prefix="Line"):
    """``count`` adjustments booked in one month, in order."""
    year, number = month
    with world.scope():
        for i in range(count):
            when = at(year, number, 1 + i * 27 // count, 1 + i % 20)
            book(world, when, Kind.ADJUSTMENT, "1.00")


@pytest.fixture
def admin_client(acme):
    return acme.client(Role.PARTNER_ADMIN)


@pytest.fixture
def won_line(acme):
    with acme.scope():
        make_plan(acme, rate_percent=D("10"))
        deal = make_won_deal(acme, "1000.00", close_date=date.today())
        (entry,) = ledger.sync_deal(deal)
    return entry


class TestStatementPages:
    def test_the_list_shows_each_period_with_its_balances(self, acme, admin_client):
        with acme.scope():
            history(acme)
        page = admin_client.get("/incentives/").content.decode()
        for label in ("January 2026", "February 2026", "March 2026", "April 2026"):
            assert label in page
        assert 'href="/incentives/statement/?period=2026-02-01"' in page
        assert "23.00 USD" in page and "53.00 USD" in page

    def test_a_statement_shows_totals_and_lines(self, acme, admin_client):
        with acme.scope():
            history(acme)
        page = admin_client.get("/incentives/statement/" + FEBRUARY).content.decode()
        for testid, value in [
            ("opening", "100.00 USD"),
            ("accruals", "55.00 USD"),
            ("adjustments", "-10.00 USD"),
            ("clawbacks", "-22.00 USD"),
            ("payouts", "-100.00 USD"),
        ]:
            assert f'data-testid="{testid}">{value}<' in page
        assert "<strong>23.00 USD</strong>" in page
        # The EUR line: its own amount, the rate, the base amount.
        assert "50.00 EUR" in page and ">1.1<" in page and "55.00 USD" in page
        assert page.count('data-testid="dispute-line"') == 4

    def test_the_current_statement_by_default(self, acme, admin_client, won_line):
        page = admin_client.get("/incentives/statement/").content.decode()
        assert "in progress" in page
        with acme.scope():
            code = won_line.registration.code
        assert f'href="/deals/{code}/"' in page
        assert "100.00 USD" in page

    @pytest.mark.parametrize(
        "period, says",
        [
            ("2026-02-02", "2026-02-02 is not the first day of a statement period."),
            ("nonsense", "“nonsense” is not a statement period."),
            ("2999-01-01", "The statement period of January 2999 has not begun."),
            ("2026-13", "“2026-13” is not a statement period."),
        ],
    )
    def test_a_period_that_is_not_one_shows_the_current_one_saying_so(
        self, admin_client, period, says
    ):
        page = admin_client.get(f"/incentives/statement/?period={period}")
        assert page.status_code == 200
        assert f"{says} Showing the current period." in [str(m) for m in page.context["messages"]]
        current = admin_client.get("/incentives/statement/")
        assert page.context["statement"].key == current.context["statement"].key
        for file in ("csv", "pdf"):
            response = admin_client.get(f"/incentives/statement.{file}?period={period}")
            assert response.status_code == 400
            body = response.content.decode()
            assert f"The file was not made: {says}" in body.replace("&#x27;", "'")
            assert 'data-testid="error-page"' in body

    def test_lines_are_paged(self, acme, admin_client):
        many_lines(acme, 250)
        first = admin_client.get("/incentives/statement/?period=2026-03-01").content.decode()
        last = admin_client.get("/incentives/statement/?period=2026-03-01&page=3").content.decode()
        assert first.count('<tr id="line-') == 100
        assert last.count('<tr id="line-') == 50
        assert "Page 1 of 3" in first and "lines 201 to 250 of 250" in last
        assert "250.00 USD" in first  # the totals cover every page
        assert 'href="?period=2026-03-01&amp;page=2"' in first

    def test_query_count_does_not_grow_with_the_lines(self, acme, admin_client):
        many_lines(acme, 10, month=(2026, 3))
        many_lines(acme, 300, month=(2026, 4))
        counts = []
        for period in ("2026-03-01", "2026-04-01"):
            with CaptureQueriesContext(connection) as queries:
                response = admin_client.get(f"/incentives/statement/?period={period}")
            assert response.status_code == 200
            counts.append(len(queries))
        assert counts[0] == counts[1]
        assert counts[0] <= 14

    def test_disputed_lines_link_their_dispute(self, acme, admin_client, won_line):
        with acme.scope():
            dispute = disputes.open_dispute(won_line, by=acme[Role.PARTNER_ADMIN], message="Hm")
        page = admin_client.get("/incentives/statement/").content.decode()
        assert f'href="/incentives/disputes/{dispute.code}/"' in page
        assert 'data-testid="dispute-line"' not in page

    def test_navigation_links_statements_for_partner_admins_only(self, acme, admin_client):
        assert 'href="/incentives/"' in admin_client.get("/").content.decode()
        assert 'href="/incentives/"' not in acme.client(Role.PARTNER_USER).get("/").content.decode()


class TestDownloads:
    def test_csv_has_every_line_and_the_totals(self, acme, admin_client):
        with acme.scope():
            history(acme)
            book(acme, at(2026, 2, 20), Kind.ADJUSTMENT, "1.00")
        response = admin_client.get("/incentives/statement.csv" + FEBRUARY)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "acme-statement-acme-reseller-one-2026-02-01.csv" in response["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        header, body = rows[0], rows[1:]
        assert header[:5] == ["booked", "kind", "what happened", "description", "deal"]
        lines = body[: body.index([])]
        totals = {r[0]: r[12] for r in body[body.index([]) + 1 :]}
        assert len(lines) == 5
        eur = next(r for r in lines if r[10] == "EUR" and r[1] == "Accrual")
        assert (eur[9], eur[11], eur[12], eur[13]) == ("50.00", "1.1", "55.00", "USD")
        # What caused each line, in the words the portal uses.
        assert {r[2] for r in lines} >= {"Manual adjustment by finance"}
        assert totals["Opening balance 2026-02-01"] == "100.00"
        assert totals["Closing balance 2026-02-28"] == "24.00"

    def test_csv_cells_are_safe_in_a_spreadsheet(self, acme, admin_client):
        with acme.scope():
            today = acme.tenant.local_today()
            ledger.write(
                acme.tenant,
                ledger.NewEntry(
                    partner_id=acme.partner.pk,
                    kind=Kind.ADJUSTMENT,
                    amount=D("1"),
                    currency="USD",
                    fx_rate=D(1),
                    source=LedgerEntry.Source.MANUAL,
                    effective_date=today,
                    available_on=today,
                    description='=HYPERLINK("http://evil.example","x")',
                    idempotency_key="formula",
                    created_via="tests",
                ),
            )
        body = b"".join(admin_client.get("/incentives/statement.csv").streaming_content).decode()
        assert "'=HYPERLINK" in body

    def test_pdf_has_the_header_totals_and_every_line_over_pages(self, acme, admin_client):
        with acme.scope():
            history(acme)
        many_lines(acme, 116, month=(2026, 2))
        response = admin_client.get("/incentives/statement.pdf" + FEBRUARY)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
        reader = PdfReader(io.BytesIO(response.content))
        first, other = statement_export._rows_per_page()
        expected = 1 + -(-(120 - first) // other)
        assert expected >= 3
        assert len(reader.pages) == expected == statement_export.pdf_pages(120)
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert "Acme Corp" in text and "Acme Reseller One" in text and "February 2026" in text
        assert "139.00 USD" in reader.pages[0].extract_text()  # 23 + 116
        assert f"Page {expected} of {expected}" in reader.pages[-1].extract_text()
        # Every line is there: 4 of the history, 116 adjustments.
        assert text.count("adjustment 1.00 USD") == 116

    def test_an_empty_period_still_gives_a_pdf(self, admin_client):
        response = admin_client.get("/incentives/statement.pdf")
        reader = PdfReader(io.BytesIO(response.content))
        assert len(reader.pages) == 1
        assert "No entries were booked" in reader.pages[0].extract_text()


class TestPortalDisputes:
    def test_open_a_dispute_from_a_line(self, acme, admin_client, won_line):
        url = f"/incentives/lines/{won_line.pk}/dispute/"
        page = admin_client.get(url).content.decode()
        assert "What is wrong with this line?" in page and won_line.description in page
        empty = admin_client.post(url, {"message": ""})
        assert empty.status_code == 400
        assert "This field is required" in empty.content.decode()
        response = admin_client.post(url, {"message": "Should be 12%."})
        with acme.scope():
            dispute = Dispute.objects.get()
        assert response.status_code == 302
        assert response["Location"] == f"/incentives/disputes/{dispute.code}/"
        # A second press of the same form: still one dispute.
        assert admin_client.post(url, {"message": "Should be 12%."}).status_code == 302
        with acme.scope():
            assert Dispute.objects.count() == 1 and DisputeMessage.objects.count() == 1

    def test_thread_and_reply(self, acme, admin_client, won_line):
        with acme.scope():
            dispute = disputes.open_dispute(
                won_line, by=acme[Role.PARTNER_ADMIN], message="Should be 12%."
            )
            disputes.add_message(dispute, by=acme[Role.FINANCE], body="Your tier gets 10%.")
        url = f"/incentives/disputes/{dispute.code}/"
        page = admin_client.get(url).content.decode()
        assert "Should be 12%." in page and "Your tier gets 10%." in page
        assert "Answered" in page
        response = admin_client.post(url + "reply/", {"body": "We moved to Gold in May."})
        assert response.status_code == 302
        with acme.scope():
            assert Dispute.objects.get().status == Dispute.Status.OPEN
        listing = admin_client.get("/incentives/disputes/").content.decode()
        assert dispute.code in listing

    def test_a_closed_dispute_shows_its_resolution_and_takes_no_reply(
        self, acme, admin_client, won_line
    ):
        with acme.scope():
            dispute = disputes.open_dispute(won_line, by=acme[Role.PARTNER_ADMIN], message="?")
            disputes.resolve_with_adjustment(
                dispute, by=acme[Role.FINANCE], amount=D("20"), reason="Gold rate applied."
            )
        url = f"/incentives/disputes/{dispute.code}/"
        page = admin_client.get(url).content.decode()
        assert "Resolved with an adjustment of 20.00 USD" in page
        assert "Gold rate applied." in page and 'action="/incentives/disputes/' not in page
        refused = admin_client.post(url + "reply/", {"body": "Thanks"})
        assert refused.status_code == 400
        assert "is closed" in refused.content.decode()
        # The adjustment is on the current statement, linked to the deal.
        statement = admin_client.get("/incentives/statement/").content.decode()
        assert f"Dispute {dispute.code} resolved" in statement
        assert statement.count(f'href="/deals/{won_line.registration.code}/"') == 2


class TestIsolation:
    def test_partner_users_and_staff_get_403(self, acme, won_line):
        with acme.scope():
            dispute = disputes.open_dispute(won_line, by=acme[Role.PARTNER_ADMIN], message="?")
        urls = [
            "/incentives/",
            "/incentives/statement/",
            "/incentives/statement.csv",
            "/incentives/statement.pdf",
            "/incentives/disputes/",
            f"/incentives/disputes/{dispute.code}/",
            f"/incentives/lines/{won_line.pk}/dispute/",
        ]
        for role in [Role.PARTNER_USER, *STAFF_ROLES]:
            client = acme.client(role)
            for url in urls:
                assert client.get(url).status_code == 403, (role, url)

    def test_another_partners_admin_sees_only_their_own(self, acme, won_line):
        with acme.scope():
            history(acme)
            dispute = disputes.open_dispute(won_line, by=acme[Role.PARTNER_ADMIN], message="?")
            stranger = factories.make_member(
                acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner
            )
        client = acme.client()
        client.force_login(stranger.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        assert client.get(f"/incentives/disputes/{dispute.code}/").status_code == 404
        assert (
            client.post(f"/incentives/disputes/{dispute.code}/reply/", {"body": "x"}).status_code
            == 404
        )
        assert client.get(f"/incentives/lines/{won_line.pk}/dispute/").status_code == 404
        assert (
            client.post(f"/incentives/lines/{won_line.pk}/dispute/", {"message": "x"}).status_code
            == 404
        )
        page = client.get("/incentives/statement/" + FEBRUARY).content.decode()
        assert 'data-testid="closing"><strong>0.00 USD<' in page
        assert dispute.code not in client.get("/incentives/disputes/").content.decode()
        with acme.scope():
            assert DisputeMessage.objects.count() == 1 and Dispute.objects.count() == 1

    def test_another_tenants_ids_are_404(self, acme, globex, won_line):
        with acme.scope():
            dispute = disputes.open_dispute(won_line, by=acme[Role.PARTNER_ADMIN], message="?")
        intruder = globex.client(Role.PARTNER_ADMIN)
        assert intruder.get(f"/incentives/disputes/{dispute.code}/").status_code == 404
        assert intruder.get(f"/incentives/lines/{won_line.pk}/dispute/").status_code == 404
        page = intruder.get("/incentives/statement/").content.decode()
        assert won_line.description not in page


class TestStaffStatement:
    URL = "/admin/incentives/statement/partner/"

    def test_finance_opens_any_partners_statement(self, acme):
        with acme.scope():
            history(acme)
        client = acme.client(Role.FINANCE)
        assert client.get(self.URL).status_code == 200
        page = client.get(
            f"{self.URL}?partner={acme.partner.pk}&period=2026-02-01"
        ).content.decode()
        assert "<strong>23.00 USD</strong>" in page and "50.00 EUR" in page
        assert "February 2026" in page and "April 2026" in page  # the periods
        assert 'data-testid="dispute-line"' not in page
        csv_response = client.get(
            f"{self.URL}?partner={acme.partner.pk}&period=2026-02-01&format=csv"
        )
        assert b"".join(csv_response.streaming_content).decode().count("\n") == 1 + 4 + 1 + 6
        pdf = client.get(f"{self.URL}?partner={acme.partner.pk}&period=2026-02-01&format=pdf")
        assert pdf.content.startswith(b"%PDF")

    def test_deal_links_open_the_admin(self, acme, won_line):
        page = acme.client(Role.EXECUTIVE).get(f"{self.URL}?partner={acme.partner.pk}")
        assert f"/admin/dealreg/dealregistration/{won_line.registration_id}/change/" in (
            page.content.decode()
        )

    def test_another_tenants_partner_is_not_a_choice(self, acme, globex):
        page = acme.client(Role.FINANCE).get(f"{self.URL}?partner={globex.partner.pk}")
        assert page.status_code == 200
        assert "Select a valid choice" in page.content.decode()

    def test_channel_managers_may_not(self, acme):
        client = acme.client(Role.CHANNEL_MANAGER)
        assert client.get(f"{self.URL}?partner={acme.partner.pk}").status_code == 403
        assert client.get("/admin/incentives/statement/export.csv").status_code == 403

    def test_issued_statements_list_and_export(self, acme):
        with acme.scope():
            history(acme)
            statements.issue_statements(acme.tenant, date(2026, 2, 1))
            assert Statement.objects.count() == 1
        client = acme.client(Role.FINANCE)
        listing = client.get("/admin/incentives/statement/").content.decode()
        assert "Acme Reseller One" in listing and "February 2026" in listing
        exported = client.get("/admin/incentives/statement/export.csv?period_start=2026-02-01")
        rows = list(csv.reader(io.StringIO(exported.content.decode())))
        assert rows[1][:3] == ["Acme Reseller One", "February 2026", "2026-02-01"]
        assert rows[0][9:12] == ["MDF reimbursements", "payouts", "closing"]
        assert (rows[1][9], rows[1][11]) == ("0.00", "23.00")
        none = client.get("/admin/incentives/statement/export.csv?period_start=2026-03-01")
        assert len(list(csv.reader(io.StringIO(none.content.decode())))) == 1
