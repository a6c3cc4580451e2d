"""The partner portal's list of the organisation's deal registrations, its
CSV export, the home page card and the navigation link."""

import csv
import io
import uuid

import pytest

from dealreg import services, views
from dealreg.models import DealRegistration
from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES, Role
from tests import factories

from .conftest import registration_input

pytestmark = pytest.mark.django_db

LIST = "/deals/"
EXPORT = "/deals/export.csv"


def draft(world, products, member=None, **fields) -> DealRegistration:
    member = member or world[Role.PARTNER_USER]
    with world.scope():
        return services.save_draft(
            tenant=world.tenant,
            by=member,
            given=registration_input(products[world.tenant.slug], **fields),
            client_token=uuid.uuid4(),
        )


@pytest.fixture
def rival(acme):
    """A member of the other partner organisation of acme."""
    with acme.scope():
        return factories.make_member(acme.tenant, Role.PARTNER_USER, partner=acme.other_partner)


def read_csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


class TestList:
    def test_shows_the_organisations_registrations_to_user_and_admin(
        self, acme, globex, products, submit_as, rival
    ):
        by_user = submit_as(acme, customer_name="Initech Corporation")
        by_admin = submit_as(
            acme, role=Role.PARTNER_ADMIN, customer_name="Umbrella Labs", customer_domain=""
        )
        theirs = submit_as(acme, member=rival, customer_name="Hooli XYZ", customer_domain="")
        other_tenant = submit_as(globex, customer_name="Vandelay Imports", customer_domain="")
        for role in PARTNER_ROLES:
            response = acme.client(role).get(LIST)
            assert response.status_code == 200
            page = response.content.decode()
            assert by_user.code in page and "Initech Corporation" in page
            assert by_admin.code in page and "Umbrella Labs" in page
            assert theirs.code not in page and "Hooli" not in page
            assert other_tenant.code not in page and "Vandelay" not in page

    @pytest.mark.parametrize("role", sorted(STAFF_ROLES))
    @pytest.mark.parametrize("url", [LIST, EXPORT, "/deals/new/"])
    def test_staff_get_403(self, acme, role, url):
        assert acme.client(role).get(url).status_code == 403

    @pytest.mark.parametrize("url", [LIST, EXPORT, "/deals/new/"])
    def test_anonymous_is_sent_to_log_in(self, acme, url):
        response = acme.client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")

    def test_filter_by_status(self, acme, products, submit_as):
        submitted = submit_as(acme, customer_name="Submitted Deal Inc", customer_domain="")
        drafted = draft(acme, products, customer_name="Drafted Deal Inc", customer_domain="")
        client = acme.client(Role.PARTNER_USER)
        page = client.get(LIST, {"status": "draft"}).content.decode()
        assert drafted.code in page and submitted.code not in page
        page = client.get(LIST, {"status": "submitted"}).content.decode()
        assert submitted.code in page and drafted.code not in page
        # The status filter shows how many registrations each status holds.
        response = client.get(LIST)
        counts = {c["status"]: c["count"] for c in response.context["counts"]}
        assert counts["draft"] == 1 and counts["submitted"] == 1 and counts["approved"] == 0

    def test_an_unknown_status_is_ignored_not_an_error(self, acme, products):
        drafted = draft(acme, products)
        response = acme.client(Role.PARTNER_USER).get(LIST, {"status": "nonsense"})
        assert response.status_code == 200
        assert drafted.code in response.content.decode()

    def test_search_by_customer_domain_and_code(self, acme, products):
        initech = draft(acme, products, customer_name="Initech Corporation")
        globo = draft(
            acme, products, customer_name="Globo Gym Purple Cobras", customer_domain="globo.example"
        )
        client = acme.client(Role.PARTNER_USER)
        page = client.get(LIST, {"q": "initech"}).content.decode()
        assert initech.code in page and globo.code not in page
        page = client.get(LIST, {"q": "globo.exa"}).content.decode()
        assert globo.code in page and initech.code not in page
        page = client.get(LIST, {"q": globo.code.lower()}).content.decode()
        assert globo.code in page and initech.code not in page
        page = client.get(LIST, {"q": "nobody-by-that-name"}).content.decode()
        assert "No registrations match" in page

    def test_paginates_and_keeps_the_filter_in_page_links(self, acme, products, monkeypatch):
        monkeypatch.setattr(views, "PAGE_SIZE", 4)
        made = [draft(acme, products, customer_name=f"Customer {n:02d} Ltd") for n in range(6)]
        client = acme.client(Role.PARTNER_USER)
        first = client.get(LIST, {"status": "draft"})
        second = client.get(LIST, {"status": "draft", "page": 2})
        first_codes = [r.code for r in first.context["registrations"]]
        second_codes = [r.code for r in second.context["registrations"]]
        assert len(first_codes) == 4 and len(second_codes) == 2
        # Newest first, every registration exactly once.
        assert first_codes + second_codes == [r.code for r in reversed(made)]
        assert "?status=draft&amp;page=2" in first.content.decode()

    def test_query_count_does_not_grow_with_registrations(
        self, acme, products, django_assert_max_num_queries
    ):
        for n in range(3):
            draft(acme, products, customer_name=f"Small {n} Ltd")
        client = acme.client(Role.PARTNER_USER)
        client.get(LIST)  # warm up (session, content types)
        with django_assert_max_num_queries(15) as few:
            response = client.get(LIST)
        assert len(response.context["registrations"]) == 3
        for n in range(27):
            draft(acme, products, customer_name=f"Large {n} Ltd")
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = client.get(LIST)
        assert len(response.context["registrations"]) == 25

    def test_conflict_review_is_shown_without_the_other_partner(self, acme, submit_as, rival):
        submit_as(acme, member=rival)
        mine = submit_as(acme, customer_name="Initech Corp.")
        with acme.scope():
            mine.refresh_from_db()
        assert mine.conflict_state == DealRegistration.ConflictState.CONFLICT
        page = acme.client(Role.PARTNER_USER).get(LIST).content.decode()
        assert "Conflict review" in page
        assert acme.other_partner.name not in page


class TestExport:
    def test_only_the_organisations_rows_as_filtered(
        self, acme, globex, products, submit_as, rival
    ):
        mine = submit_as(acme)
        drafted = draft(acme, products, customer_name="Draft Only Ltd", customer_domain="")
        submit_as(acme, member=rival, customer_name="Rival Deal Co", customer_domain="")
        submit_as(globex, customer_name="Globex Side Inc", customer_domain="")
        client = acme.client(Role.PARTNER_ADMIN)
        response = client.get(EXPORT)
        assert response.status_code == 200
        assert "attachment" in response["Content-Disposition"]
        rows = read_csv(response)
        assert sorted(r["code"] for r in rows) == sorted([mine.code, drafted.code])
        row = next(r for r in rows if r["code"] == mine.code)
        assert row["customer"] == "Initech Corporation"
        assert row["product lines"] == "Firewall"
        assert row["estimated value"] == "25000.00"
        assert row["submitted by"] == acme[Role.PARTNER_USER].user.email
        filtered = read_csv(client.get(EXPORT, {"status": "draft"}))
        assert [r["code"] for r in filtered] == [drafted.code]

    def test_cells_are_formula_safe(self, acme, products):
        draft(
            acme,
            products,
            customer_name='=HYPERLINK("http://evil.example","click")',
            customer_domain="",
            customer_contact_name="@SUM(A1:A2)",
            customer_contact_phone="+1 555 0100",
        )
        rows = read_csv(acme.client(Role.PARTNER_USER).get(EXPORT))
        assert rows[0]["customer"] == '\'=HYPERLINK("http://evil.example","click")'
        assert rows[0]["contact name"] == "'@SUM(A1:A2)"
        assert rows[0]["contact phone"] == "+1 555 0100"  # a phone number stays as it is

    def test_query_count_does_not_grow_with_rows(
        self, acme, products, django_assert_max_num_queries
    ):
        for n in range(3):
            draft(acme, products, customer_name=f"Small {n} Ltd")
        client = acme.client(Role.PARTNER_USER)
        client.get(EXPORT)
        with django_assert_max_num_queries(15) as few:
            assert len(read_csv(client.get(EXPORT))) == 3
        for n in range(27):
            draft(acme, products, customer_name=f"Large {n} Ltd")
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert len(read_csv(client.get(EXPORT))) == 30


class TestHomeAndNavigation:
    def test_home_card_counts_by_status_and_links_to_register(
        self, acme, products, submit_as, rival
    ):
        submit_as(acme)
        submit_as(acme, customer_name="Second Deal Ltd", customer_domain="")
        draft(acme, products, customer_name="Third Deal Ltd", customer_domain="")
        submit_as(acme, member=rival, customer_name="Not Ours Ltd", customer_domain="")
        response = acme.client(Role.PARTNER_USER).get("/")
        (card,) = [c for c in response.context["cards"] if c["card"].key == "dealreg.partner_deals"]
        assert {c["status"]: c["count"] for c in card["context"]["deal_counts"]} == {
            "submitted": 2,
            "draft": 1,
        }
        page = response.content.decode()
        assert 'data-testid="deals-card"' in page
        assert 'href="/deals/new/"' in page
        assert 'href="/deals/?status=submitted"' in page

    def test_link_in_navigation_only_for_partner_roles(self, acme):
        for role in sorted(PARTNER_ROLES | STAFF_ROLES):
            page = acme.client(role).get("/").content.decode()
            assert ('href="/deals/"' in page) == (role in PARTNER_ROLES), role
