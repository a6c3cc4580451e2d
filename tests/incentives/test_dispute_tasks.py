"""Finance is asked to answer a dispute; the notifications close themselves
once finance answers or resolves it, and open again with the partner's reply."""

import pytest

from incentives import disputes
from incentives.url_matrix.portal import dispute
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role

pytestmark = pytest.mark.django_db


def open_asks(world) -> list:
    with world.scope():
        return list(Notification.objects.filter(task=disputes.ANSWER_DISPUTE, done_at__isnull=True))


def test_answering_closes_the_request_and_a_reply_opens_another(acme):
    opened = dispute(acme)
    [ask] = open_asks(acme)
    assert ask.user == acme[Role.FINANCE].user and ask.kind == "incentives.dispute_opened"
    assert ask.subject == f"incentives.dispute:{opened.pk}"
    with acme.scope():
        disputes.add_message(opened, by=acme[Role.FINANCE], body="We are looking into it.")
    assert open_asks(acme) == []
    with acme.scope():
        disputes.add_message(opened, by=acme[Role.PARTNER_ADMIN], body="Any news?")
    [again] = open_asks(acme)
    assert again.kind == "incentives.dispute_message"


def test_rejecting_closes_it(acme):
    opened = dispute(acme)
    with acme.scope():
        disputes.reject(opened, by=acme[Role.FINANCE], reason="The rate was right.")
    assert open_asks(acme) == []
    with acme.scope():
        assert Notification.objects.get(kind="incentives.dispute_opened").read_at is not None
