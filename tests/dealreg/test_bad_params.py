"""Bad filters on the deal list: the readable filters apply, each unreadable
one is named in a notice; the export refuses with the branded 400."""

import pytest

from prm.tenancy.roles import Role

from .test_portal_list import draft


def notices(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def two_drafts(acme, products):
    draft(acme, products, customer_name="Initech Corporation")
    draft(acme, products, customer_name="Globochem Ltd", customer_domain="globochem.example")
    return acme.client(Role.PARTNER_USER)


@pytest.mark.parametrize("value", ["garbage", "1; drop", "99999999999999999999"])
def test_a_status_that_is_none_shows_all_statuses_saying_so(two_drafts, value):
    response = two_drafts.get("/deals/", {"status": value})
    assert response.status_code == 200
    assert notices(response) == [f"“{value}” is not a status here; showing all statuses."]
    assert len(response.context["registrations"]) == 2


def test_the_readable_filters_still_apply(two_drafts):
    response = two_drafts.get("/deals/", {"status": "garbage", "q": "globochem", "page": "abc"})
    assert [r.customer_name for r in response.context["registrations"]] == ["Globochem Ltd"]
    assert notices(response) == [
        "“garbage” is not a status here; showing all statuses.",
        "“abc” is not a page number; showing page 1.",
    ]


def test_a_search_too_long_is_ignored_saying_so(two_drafts):
    response = two_drafts.get("/deals/", {"q": "x" * 101})
    assert response.status_code == 200
    (notice,) = notices(response)
    assert notice.startswith("The search filter was ignored: Ensure this value has at most 100")
    assert len(response.context["registrations"]) == 2


def test_the_export_refuses_a_filter_it_cannot_read(two_drafts):
    response = two_drafts.get("/deals/export.csv", {"status": "garbage"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="error-page"' in body
    assert "The file was not made: “garbage” is not a status here" in body
    assert two_drafts.get("/deals/export.csv", {"status": "draft"}).status_code == 200
