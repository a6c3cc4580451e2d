"""A bad query parameter on the foundation's pages is a notice on the page
(what was ignored, what is shown instead), never an error page or a silent
wrong answer; a bad id posted to a redirecting view is the branded 400."""

from datetime import timedelta

import pytest
from django.utils import timezone

from prm.tenancy.models import Notification
from prm.tenancy.roles import Role

GARBAGE_PAGES = [
    ("abc", "“abc” is not a page number; showing page 1.", 1),
    ("1; drop", "“1; drop” is not a page number; showing page 1.", 1),
    ("0", "There is no page “0”; showing page 1.", 1),
    ("-3", "There is no page “-3”; showing page 1.", 1),
    ("99999999999999999999", "There is no page “99999999999999999999”; showing the last page", 2),
]


def notices(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def two_pages_of_notifications(acme):
    member = acme[Role.PARTNER_USER]
    with acme.scope():
        Notification.objects.bulk_create(
            Notification(
                tenant=acme.tenant,
                user=member.user,
                kind="test",
                title=f"Note {i}",
                created_at=timezone.now() - timedelta(minutes=i),
            )
            for i in range(30)  # 25 a page
        )
    return acme.client(Role.PARTNER_USER)


@pytest.mark.parametrize("value, says, shown", GARBAGE_PAGES)
def test_notifications_page_that_is_none(two_pages_of_notifications, value, says, shown):
    response = two_pages_of_notifications.get("/notifications/", {"page": value})
    assert response.status_code == 200
    assert response.context["page_obj"].number == shown
    assert any(n.startswith(says) for n in notices(response)), notices(response)
    assert says in response.content.decode()


def test_a_good_page_has_no_notice(two_pages_of_notifications):
    response = two_pages_of_notifications.get("/notifications/", {"page": "2"})
    assert response.context["page_obj"].number == 2
    assert notices(response) == []


def test_people_page_that_is_none(acme):
    response = acme.client(Role.OPS_ADMIN).get("/people/", {"page": "abc"})
    assert response.status_code == 200
    assert notices(response) == ["“abc” is not a page number; showing page 1."]


def test_a_long_value_is_cut_in_the_notice(acme):
    response = acme.client(Role.OPS_ADMIN).get("/people/", {"page": "x" * 500})
    (notice,) = notices(response)
    assert len(notice) < 100 and "…”" in notice


@pytest.mark.parametrize("value", ["abc", "1; drop", "", "99999999999999999999"])
def test_opening_a_notification_that_is_no_id_is_the_branded_400(acme, value):
    client = acme.client(Role.PARTNER_USER)
    response = client.post("/notifications/open/", {"notification": value})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="error-page"' in body
    assert "Say which notification to open." in body
