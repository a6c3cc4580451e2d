"""Partner users reading their organisation's statements, where the program
allows it (``IncentiveSettings.partner_users_see_statements``): read-only,
no disputes; off by default."""

from datetime import date
from decimal import Decimal

import pytest

from incentives import disputes, ledger
from incentives.models import Dispute, IncentiveSettings
from prm.tenancy.roles import STAFF_ROLES, Role
from tests import factories

from .conftest import make_plan, make_won_deal
from .test_statements import history

pytestmark = pytest.mark.django_db

FEBRUARY = "?period=2026-02-01"
STATEMENT_PAGES = [
    "/incentives/",
    "/incentives/statement/",
    "/incentives/statement/" + FEBRUARY,
    "/incentives/statement.csv" + FEBRUARY,
    "/incentives/statement.pdf" + FEBRUARY,
]


def allow(world, on: bool = True) -> None:
    with world.scope():
        row = IncentiveSettings.for_tenant(world.tenant)
        row.partner_users_see_statements = on
        row.save()


@pytest.fixture
def won_line(acme):
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        deal = make_won_deal(acme, "1000.00", close_date=date.today())
        (entry,) = ledger.sync_deal(deal)
    return entry


class TestSettingOff:
    def test_off_by_default(self, acme):
        with acme.scope():
            assert IncentiveSettings.for_tenant(acme.tenant).partner_users_see_statements is False

    def test_partner_users_get_403_and_no_statements_link(self, acme):
        client = acme.client(Role.PARTNER_USER)
        for url in STATEMENT_PAGES:
            assert client.get(url).status_code == 403, url
        home = client.get("/").content.decode()
        assert 'href="/incentives/"' not in home
        assert "Commission statements" not in home


class TestSettingOn:
    def test_partner_users_read_their_organisations_statements(self, acme):
        allow(acme)
        with acme.scope():
            history(acme)
        client = acme.client(Role.PARTNER_USER)
        for url in STATEMENT_PAGES:
            assert client.get(url).status_code == 200, url
        page = client.get("/incentives/statement/" + FEBRUARY).content.decode()
        assert 'data-testid="closing"><strong>23.00 USD<' in page
        assert 'data-testid="dispute-line"' not in page  # read-only
        assert 'href="/incentives/disputes/"' not in page
        assert "Your partner admin can dispute" in page
        home = client.get("/").content.decode()
        assert 'href="/incentives/"' in home and "Commission statements" in home

    def test_no_dispute_can_be_opened_or_read(self, acme, won_line):
        allow(acme)
        with acme.scope():
            dispute = disputes.open_dispute(won_line, by=acme[Role.PARTNER_ADMIN], message="?")
        client = acme.client(Role.PARTNER_USER)
        page = client.get("/incentives/statement/").content.decode()
        assert won_line.description in page
        assert f"/incentives/disputes/{dispute.code}/" not in page
        for url in [
            "/incentives/disputes/",
            f"/incentives/disputes/{dispute.code}/",
            f"/incentives/lines/{won_line.pk}/dispute/",
        ]:
            assert client.get(url).status_code == 403, url
        response = client.post(f"/incentives/lines/{won_line.pk}/dispute/", {"message": "x"})
        assert response.status_code == 403
        response = client.post(f"/incentives/disputes/{dispute.code}/reply/", {"body": "x"})
        assert response.status_code == 403
        with acme.scope():
            assert Dispute.objects.count() == 1
            assert dispute.messages.count() == 1

    def test_partner_admins_keep_their_disputes(self, acme, won_line):
        allow(acme)
        page = acme.client(Role.PARTNER_ADMIN).get("/incentives/statement/").content.decode()
        assert 'data-testid="dispute-line"' in page

    def test_staff_still_get_403(self, acme):
        allow(acme)
        for role in STAFF_ROLES:
            client = acme.client(role)
            for url in STATEMENT_PAGES:
                assert client.get(url).status_code == 403, (role, url)

    def test_another_partners_user_sees_only_their_own(self, acme, won_line):
        allow(acme)
        with acme.scope():
            history(acme)
            stranger = factories.make_member(
                acme.tenant, Role.PARTNER_USER, partner=acme.other_partner
            )
        client = acme.client()
        client.force_login(stranger.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        page = client.get("/incentives/statement/" + FEBRUARY).content.decode()
        assert 'data-testid="closing"><strong>0.00 USD<' in page
        assert won_line.description not in client.get("/incentives/statement/").content.decode()
        assert client.get(f"/incentives/lines/{won_line.pk}/dispute/").status_code in {403, 404}

    def test_another_tenants_setting_does_not_count(self, acme, globex):
        allow(globex)
        assert acme.client(Role.PARTNER_USER).get("/incentives/").status_code == 403
        assert globex.client(Role.PARTNER_USER).get("/incentives/").status_code == 200

    def test_another_tenants_partner_user_sees_nothing_of_this_tenant(self, acme, globex, won_line):
        allow(acme)
        allow(globex)
        intruder = globex.client(Role.PARTNER_USER)
        page = intruder.get("/incentives/statement/").content.decode()
        assert won_line.description not in page
        assert intruder.get(f"/incentives/lines/{won_line.pk}/dispute/").status_code == 404
        # Their session does not open this tenant's host at all.
        intruder.defaults["HTTP_HOST"] = acme.host
        response = intruder.get("/incentives/statement/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_turning_it_off_again_closes_the_pages(self, acme):
        allow(acme)
        client = acme.client(Role.PARTNER_USER)
        assert client.get("/incentives/").status_code == 200
        allow(acme, on=False)
        assert client.get("/incentives/").status_code == 403
