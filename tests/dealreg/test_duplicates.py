"""A partner registering a customer it already registered is warned on the
form before submitting (and may submit anyway); the approver sees the pair."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dealreg import duplicates, services
from dealreg.models import DealRegistration
from prm.tenancy.roles import Role
from tests import factories

from .test_admin_registrations import change_url
from .test_portal_form import NEW, form_data, registrations

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_products(products):
    return products["acme"]


@pytest.fixture
def earlier(acme, submit_as):
    """Initech, registered by acme's partner on 3 Dec 2026 (in the tenant's time zone)."""
    first = submit_as(acme, customer_name="Initech Corporation", customer_domain="initech.example")
    with acme.scope():
        DealRegistration.objects.filter(pk=first.pk).update(
            submitted_at=datetime(2026, 12, 3, 12, 0, tzinfo=ZoneInfo(acme.tenant.timezone))
        )
    return first


WARNING = "You registered this customer on 3 Dec 2026 as"


class TestOnTheForm:
    @pytest.mark.parametrize(
        "name, domain",
        [
            ("INITECH corp.", ""),  # the same normalized name
            ("Initech Software Division", "https://www.initech.example/"),  # the same domain
        ],
    )
    def test_the_same_customer_is_warned_about_before_it_is_submitted(
        self, acme, acme_products, earlier, name, domain
    ):
        client = acme.client(Role.PARTNER_ADMIN)  # a colleague: the organisation's registration
        data = form_data(acme_products, customer_name=name, customer_domain=domain)
        response = client.post(NEW, data)
        assert response.status_code == 200
        page = response.content.decode()
        assert f'{WARNING} <a href="/deals/{earlier.code}/">{earlier.code}</a>' in page
        assert "Submit anyway" in page
        assert len(registrations(acme)) == 1  # nothing saved yet
        # Submitting again, having seen it, registers the deal.
        data["duplicate_ack"] = response.context["duplicate_ack"]
        response = client.post(NEW, data)
        assert response.status_code == 302
        assert len(registrations(acme)) == 2

    def test_another_customer_or_another_partner_s_is_not_warned_about(
        self, acme, acme_products, earlier
    ):
        client = acme.client(Role.PARTNER_USER)
        other = form_data(acme_products, customer_name="Umbrella", customer_domain="u.example")
        response = client.post(NEW, other)
        assert response.status_code == 302
        with acme.scope():
            rival = factories.make_member(
                acme.tenant, Role.PARTNER_USER, partner=acme.other_partner
            )
        rival_client = acme.client(Role.PARTNER_USER)
        rival_client.force_login(rival.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        assert rival_client.post(NEW, form_data(acme_products)).status_code == 302

    def test_a_closed_registration_is_not_a_duplicate(self, acme, acme_products, earlier):
        with acme.scope():
            services.reject(earlier, by=acme[Role.CHANNEL_MANAGER], reason="No budget")
        response = acme.client(Role.PARTNER_USER).post(NEW, form_data(acme_products))
        assert response.status_code == 302

    def test_an_acknowledgement_of_other_registrations_does_not_count(
        self, acme, acme_products, earlier
    ):
        data = form_data(acme_products, duplicate_ack="DR-AAAAAAAA")
        response = acme.client(Role.PARTNER_USER).post(NEW, data)
        assert response.status_code == 200 and WARNING in response.content.decode()
        assert len(registrations(acme)) == 1

    def test_a_draft_is_saved_with_the_warning_and_its_edit_page_repeats_it(
        self, acme, acme_products, earlier
    ):
        client = acme.client(Role.PARTNER_USER)
        response = client.post(NEW, form_data(acme_products, action="draft"), follow=True)
        assert f"{WARNING} {earlier.code}" in response.content.decode()
        draft = registrations(acme)[-1]
        assert draft.status == DealRegistration.Status.DRAFT
        page = client.get(f"/deals/{draft.code}/edit/").content.decode()
        assert 'data-testid="duplicate-warning"' in page and earlier.code in page
        # Submitting from that page, where the warning was shown, goes through.
        data = form_data(acme_products, duplicate_ack=earlier.code)
        data.pop("client_token")
        assert client.post(f"/deals/{draft.code}/edit/", data).status_code == 302

    def test_a_double_submit_is_not_its_own_duplicate(self, acme, acme_products):
        client = acme.client(Role.PARTNER_USER)
        data = form_data(acme_products)
        first, second = client.post(NEW, data), client.post(NEW, data)
        assert first.status_code == second.status_code == 302
        assert len(registrations(acme)) == 1


class TestForTheApprover:
    def test_the_change_page_links_the_pair(self, acme, submit_as, earlier):
        second = submit_as(acme, customer_name="Initech Corp", customer_domain="")
        client = acme.client(Role.CHANNEL_MANAGER)
        page = client.get(change_url(second)).content.decode()
        assert 'data-testid="same-customer"' in page
        assert f'href="{change_url(earlier)}">{earlier.code}</a> on 3 Dec 2026' in page
        # Both ways.
        page = client.get(change_url(earlier)).content.decode()
        assert f'href="{change_url(second)}">{second.code}</a>' in page

    def test_no_pair_no_notice(self, acme, submit_as, earlier):
        page = acme.client(Role.OPS_ADMIN).get(change_url(earlier)).content.decode()
        assert 'data-testid="same-customer"' not in page


def test_the_sentence(acme, earlier):
    with acme.scope():
        text = duplicates.warning(DealRegistration.objects.get(pk=earlier.pk))
    assert text == f"{WARNING} {earlier.code} (submitted)."
