"""Stored amounts (three decimal places) shown in forms at two, so a form
sent back unchanged validates: the request's edit page and the channel
manager's approval form."""

from decimal import Decimal

import pytest

from mdf import requests
from prm.tenancy.roles import Role

from . import builders as b

pytestmark = pytest.mark.django_db


def test_a_draft_edited_and_submitted_unchanged_validates(acme):
    with acme.scope():
        alloc = b.allocation(acme)
        draft = requests.save_request(
            b.request_data(alloc, amount=Decimal("2000")), by=acme[Role.PARTNER_USER]
        )
    client = acme.client(Role.PARTNER_USER)
    page = client.get(f"/funds/requests/{draft.code}/edit/").content.decode()
    assert 'value="2000.00"' in page and "2000.000" not in page


def test_the_approval_form_offers_the_amount_asked_for_at_two_places(acme):
    with acme.scope():
        req = b.submitted(acme, b.allocation(acme), amount=Decimal("2000"))
    client = acme.client(Role.CHANNEL_MANAGER)
    url = f"/admin/mdf/fundrequest/{req.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="approve-amount" value="2000.00"' in page
    response = client.post(url, {"_action": "approve", "approve-amount": "2000.00"})
    assert response.status_code == 302
    with acme.scope():
        req.refresh_from_db()
        assert req.status == "approved"
