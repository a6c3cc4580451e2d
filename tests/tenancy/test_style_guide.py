"""The style guide (/style-guide/): vendor staff only, every component live."""

import pytest
from django.test import Client

from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES
from prm.tenancy.styleguide import EXAMPLES, FILTERS

URL = "/style-guide/"

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_staff_open_it(acme, role):
    response = acme.client(role).get(URL)
    assert response.status_code == 200
    assert "<h1>Style guide</h1>" in response.content.decode()


@pytest.mark.parametrize("role", sorted(PARTNER_ROLES))
def test_partners_get_403(acme, role):
    assert acme.client(role).get(URL).status_code == 403


def test_anonymous_is_sent_to_log_in(acme):
    response = Client(HTTP_HOST=acme.host).get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_another_tenants_staff_is_not_let_in(acme, globex):
    """An acme ops admin's session does not open globex's style guide (the
    session ends: not a member there); an unknown host is 404."""
    client = Client(HTTP_HOST=globex.host)
    client.force_login(
        acme["ops_admin"].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
    )
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Client(HTTP_HOST="nowhere.localhost").get(URL).status_code == 404


def test_every_component_is_rendered_live_next_to_its_markup(acme):
    page = acme.client("channel_manager").get(URL).content.decode()
    assert page.count('data-testid="sg-example"') == len(EXAMPLES)
    for example in EXAMPLES:
        assert f'id="{example.key}"' in page
    # live: the components' own markup is on the page, rendered
    for rendered in (
        '<nav class="crumbs" aria-label="Breadcrumb">',
        '<span class="chip chip-ok">Won</span>',  # through the chip_tone filter
        'class="table table-stack"',
        'data-testid="empty-state"',
        '<nav class="pagination" aria-label="Example pages">',
        'rel="prev"',
        'rel="next"',
        '<progress class="progress"',
        'class="stat-value">120,000.00 USD</span>',
        '<div class="notice notice-warn">',
    ):
        assert rendered in page, rendered
    # and its source, escaped, below it
    assert "{% include &quot;components/empty.html&quot;" in page


def test_the_formatting_filters_show_their_outputs(acme):
    response = acme.client("finance").get(URL)
    page = response.content.decode()
    assert page.count('data-testid="sg-filter-output"') == len(FILTERS)
    for shown in (
        "120,000.00 USD",
        "-1,234.50 EUR",
        "1,500,000 JPY",
        "1,234.500 KWD",
        "1,234,567",
        "87.5%",
        "3 Dec 2026",
        "1 row",
        "1,000 rows",
        "3 entries",
        "Acme&#x27;s",
        "Siemens&#x27;",
        "1.0837",
    ):
        assert shown in page, shown


def test_the_user_menu_links_it_for_staff_only(acme):
    assert 'href="/style-guide/"' in acme.client("executive").get("/").content.decode()
    assert 'href="/style-guide/"' not in acme.client("partner_admin").get("/").content.decode()
