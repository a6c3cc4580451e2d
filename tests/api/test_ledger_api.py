"""Ledger entries and statements through the API (incentives.api): who sees
which rows (staff all, a partner's people their own where the portal shows
them), money as strings with the currency, filters, the statement's lines
and files, constant queries, and the ``statement.issued`` event."""

from decimal import Decimal

import pytest

from incentives import statements
from incentives.models import ExchangeRate, IncentiveSettings, LedgerEntry
from prm.tenancy.roles import Role

from .incentives_helpers import (
    IN_OLD_MONTH,
    OLD_MONTH,
    book,
    endpoint,
    events_of,
    old_statement,
    pending_deliveries,
    without_urls,
)

pytestmark = pytest.mark.django_db

ENTRIES = "/api/v1/ledger-entries/"
STATEMENTS = "/api/v1/statements/"


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def let_partner_users_read(world, on: bool = True) -> None:
    with world.scope():
        row = IncentiveSettings.for_tenant(world.tenant)
        row.partner_users_see_statements = on
        row.save()


class TestLedgerEntries:
    def test_staff_read_every_partners_entries_partners_their_own(self, acme, api):
        with acme.scope():
            mine = book(acme, "25.00")
            theirs = book(acme, "30.00", partner=acme.other_partner)
        for role in (Role.FINANCE, Role.OPS_ADMIN, Role.EXECUTIVE):
            assert ids(api(acme, role).get(ENTRIES)) == {str(mine.pk), str(theirs.pk)}
        admin = api(acme, Role.PARTNER_ADMIN)
        assert ids(admin.get(ENTRIES)) == {str(mine.pk)}
        assert admin.get(f"{ENTRIES}{mine.pk}/").status_code == 200
        other = admin.get(f"{ENTRIES}{theirs.pk}/")
        assert other.status_code == 404
        assert other.json()["code"] == "not_found"
        assert api(acme, Role.CHANNEL_MANAGER).get(ENTRIES).status_code == 403

    def test_partner_users_see_entries_only_where_the_program_lets_them(self, acme, api):
        with acme.scope():
            mine = book(acme)
        reader = api(acme, Role.PARTNER_USER)
        assert ids(reader.get(ENTRIES)) == set()
        assert reader.get(f"{ENTRIES}{mine.pk}/").status_code == 404
        let_partner_users_read(acme)
        assert ids(reader.get(ENTRIES)) == {str(mine.pk)}

    def test_money_is_a_string_with_its_currency_and_staff_fields_stay_with_staff(self, acme, api):
        with acme.scope():
            ExchangeRate.objects.create(
                tenant=acme.tenant,
                currency="EUR",
                valid_from=acme.tenant.local_today(),
                rate=Decimal("1.0837"),
            )
            entry = book(acme, "850", currency="EUR", fx_rate="1.0837", by=acme[Role.FINANCE].user)
        staff = api(acme, Role.FINANCE).get(f"{ENTRIES}{entry.pk}/").json()
        assert staff["amount"] == "850.00" and staff["currency"] == "EUR"
        assert staff["fx_rate"] == "1.0837"
        assert staff["amount_base"] == "921.15" and staff["base_currency"] == "USD"
        assert staff["partner"] == {"id": str(acme.partner.pk), "name": acme.partner.name}
        assert staff["created_by"]["email"] == acme[Role.FINANCE].user.email
        assert staff["created_via"] == "tests.api"
        assert staff["cause"].startswith("Manual adjustment by")
        assert staff["settled"] is None
        partner = api(acme, Role.PARTNER_ADMIN).get(f"{ENTRIES}{entry.pk}/").json()
        assert "created_by" not in partner and "created_via" not in partner
        assert partner["amount_base"] == "921.15"

    def test_filters_and_ordering(self, acme, api):
        with acme.scope():
            old = book(acme, "40.00", now=IN_OLD_MONTH)
            adjustment = book(acme, "10.00")
            accrual = book(acme, "20.00", kind=LedgerEntry.Kind.ACCRUAL)
            book(acme, "5.00", partner=acme.other_partner)
        client = api(acme, Role.FINANCE)
        assert ids(client.get(ENTRIES, {"kind": "accrual"})) == {str(accrual.pk)}
        assert ids(client.get(ENTRIES, {"partner": str(acme.partner.pk)})) == {
            str(old.pk),
            str(adjustment.pk),
            str(accrual.pk),
        }
        assert ids(client.get(ENTRIES, {"period": "2025-01"})) == {str(old.pk)}
        assert ids(client.get(ENTRIES, {"created_before": "2025-02-01T00:00:00Z"})) == {str(old.pk)}
        ordered = client.get(ENTRIES, {"ordering": "amount_base"}).json()["results"]
        assert [row["amount_base"] for row in ordered] == ["5.00", "10.00", "20.00", "40.00"]
        for bad in ({"period": "2025-01-15"}, {"period": "soon"}, {"kind": "gift"}):
            refused = client.get(ENTRIES, bad)
            assert refused.status_code == 422, bad
            assert refused.json()["errors"][0]["field"] == next(iter(bad))

    def test_the_list_is_constant_in_queries(self, acme, api, django_assert_max_num_queries):
        client = api(acme, Role.FINANCE)
        with acme.scope():
            book(acme)
        with django_assert_max_num_queries(12) as few:
            assert client.get(ENTRIES).status_code == 200
        with acme.scope():
            for _ in range(8):
                book(acme, partner=acme.other_partner, by=acme[Role.FINANCE].user)
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert len(client.get(ENTRIES).json()["results"]) == 9


class TestStatements:
    def test_issued_statements_with_totals_lines_and_files(self, acme, api):
        with acme.scope():
            statement = old_statement(acme)
            book(acme, "99.00")  # booked in today's period, not the statement's
        admin = api(acme, Role.PARTNER_ADMIN)
        found = admin.get(f"{STATEMENTS}{statement.pk}/")
        assert found.status_code == 200, found.content
        body = found.json()
        assert body["period_start"] == "2025-01-01" and body["label"] == "January 2025"
        assert body["opening"] == "0.00" and body["adjustments"] == "40.00"
        assert body["closing"] == "40.00" and body["currency"] == "USD"
        assert body["line_count"] == 1
        assert body["files"]["pdf"].endswith("/incentives/statement.pdf?period=2025-01-01")
        lines = admin.get(body["lines_url"])
        assert [row["amount"] for row in lines.json()["results"]] == ["40.00"]
        pdf = acme.client(Role.PARTNER_ADMIN).get(body["files"]["pdf"])
        assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
        staff = api(acme, Role.FINANCE).get(f"{STATEMENTS}{statement.pk}/").json()
        assert "/admin/" in staff["files"]["csv"] and "format=csv" in staff["files"]["csv"]
        csv = acme.client(Role.FINANCE).get(staff["files"]["csv"])
        assert csv.status_code == 200 and b"API test adjustment 40.00" in b"".join(
            csv.streaming_content if csv.streaming else [csv.content]
        )

    def test_partners_see_only_their_own_statements(self, acme, api):
        with acme.scope():
            mine = old_statement(acme)
            theirs = old_statement(acme, partner=acme.other_partner)
        admin = api(acme, Role.PARTNER_ADMIN)
        assert ids(admin.get(STATEMENTS)) == {str(mine.pk)}
        assert admin.get(f"{STATEMENTS}{theirs.pk}/").status_code == 404
        # Another partner's statement names none of our lines.
        assert ids(admin.get(ENTRIES, {"statement": str(theirs.pk)})) == set()
        assert ids(api(acme, Role.EXECUTIVE).get(STATEMENTS)) == {str(mine.pk), str(theirs.pk)}
        reader = api(acme, Role.PARTNER_USER)
        assert ids(reader.get(STATEMENTS)) == set()
        let_partner_users_read(acme)
        assert ids(reader.get(STATEMENTS)) == {str(mine.pk)}
        assert "files" in reader.get(f"{STATEMENTS}{mine.pk}/").json()
        assert api(acme, Role.CHANNEL_MANAGER).get(STATEMENTS).status_code == 403

    def test_filters(self, acme, api):
        with acme.scope():
            statement = old_statement(acme)
        client = api(acme, Role.FINANCE)
        assert ids(client.get(STATEMENTS, {"period_start": "2025-01-01"})) == {str(statement.pk)}
        assert ids(client.get(STATEMENTS, {"period_since": "2025-02-01"})) == set()
        assert client.get(STATEMENTS, {"period_start": "January"}).status_code == 422


class TestStatementIssuedEvent:
    def test_one_event_per_statement_with_its_representation(self, acme, api):
        with acme.scope():
            hook = endpoint(acme, "statement.issued")
            book(acme, "40.00", now=IN_OLD_MONTH)
            book(acme, "15.00", partner=acme.other_partner, now=IN_OLD_MONTH)
            book(acme, "1.00", partner=acme.other_partner, now=IN_OLD_MONTH)
            assert statements.issue_statements(acme.tenant, OLD_MONTH) == 2
            sent = events_of("statement.issued")
            assert len(sent) == 2
            assert all(pending_deliveries(e) == 1 for e in sent)
            assert {e.deliveries.get().endpoint_id for e in sent} == {hook.pk}
            # Issuing again issues nothing, and tells nothing.
            assert statements.issue_statements(acme.tenant, OLD_MONTH) == 0
            assert len(events_of("statement.issued")) == 2
        by_partner = {e.data["partner"]["id"]: e.data for e in sent}
        other = by_partner[str(acme.other_partner.pk)]
        assert other["closing"] == "16.00" and other["line_count"] == 2
        shown = api(acme, Role.FINANCE).get(f"{STATEMENTS}{other['id']}/").json()
        assert without_urls(other) == without_urls(shown)
        assert other["lines_url"].endswith(f"/api/v1/ledger-entries/?statement={other['id']}")

    def test_nothing_is_stored_without_an_endpoint_that_wants_it(self, acme):
        with acme.scope():
            endpoint(acme, "payout_run.paid")
            book(acme, "40.00", now=IN_OLD_MONTH)
            assert statements.issue_statements(acme.tenant, OLD_MONTH) == 1
            assert events_of("statement.issued") == []

    def test_a_refused_issue_emits_nothing(self, acme):
        with acme.scope():
            endpoint(acme, "statement.issued")
            book(acme, "40.00")
            today = acme.tenant.local_today()
            with pytest.raises(statements.IncentiveError):
                statements.issue_statements(acme.tenant, today.replace(day=1))
            assert events_of("statement.issued") == []
