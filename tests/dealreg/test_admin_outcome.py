"""Outcomes in the admin: the channel manager records won/lost, corrects a
won amount or reverses a win; incentives follow through the services."""

from datetime import date, timedelta

import pytest

from dealreg import services
from dealreg.models import DealRegistration, RegistrationEvent
from prm.tenancy.roles import Role

from .test_admin_registrations import act, change_url, fresh, messages_of

Status = DealRegistration.Status


@pytest.fixture
def approved(acme, submit_as):
    registration = submit_as(acme)
    with acme.scope():
        return services.approve(registration, by=acme[Role.CHANNEL_MANAGER])


def test_record_correct_and_reverse_in_the_admin(
    acme, approved, django_capture_on_commit_callbacks
):
    client = acme.client(Role.CHANNEL_MANAGER)
    page = client.get(change_url(approved)).content.decode()
    assert 'value="outcome"' in page and 'value="reverse"' not in page
    response = act(client, approved, "outcome", outcome="won", amount="", close_date="")
    assert response.status_code == 200
    assert "Enter the amount the deal was won for." in response.content.decode()
    yesterday = date.today() - timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = act(
            client, approved, "outcome", outcome="won", amount="5000.00", close_date=yesterday
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    won = fresh(acme, approved)
    assert (won.status, won.won_amount) == (Status.WON, 5000)
    page = client.get(change_url(won)).content.decode()
    assert 'value="correct"' in page and 'value="reverse"' in page

    response = act(client, won, "correct", amount="4000.00", close_date=yesterday, reason="")
    assert "This field is required." in response.content.decode()
    response = act(
        client, won, "correct", amount="4000.00", close_date=yesterday, reason="Partial refund"
    )
    assert response.status_code == 302
    assert fresh(acme, won).won_amount == 4000
    response = act(client, won, "reverse", reason="Customer cancelled")
    assert response.status_code == 302
    assert "clawed back" in " ".join(messages_of(response))
    reversed_ = fresh(acme, won)
    assert (reversed_.status, reversed_.reversal_reason) == (Status.REVERSED, "Customer cancelled")
    with acme.scope():
        kinds = set(reversed_.events.values_list("kind", flat=True))
    assert {RegistrationEvent.Kind.OUTCOME_CORRECTED, RegistrationEvent.Kind.REVERSED} <= kinds
    # The partner sees it on the registration page.
    page = acme.client(Role.PARTNER_USER).get(f"/deals/{won.code}/").content.decode()
    assert "Won, then reversed" in page and "Customer cancelled" in page


def test_finance_and_partners_cannot_reverse(acme, approved):
    with acme.scope():
        won = services.record_outcome(
            approved,
            by=acme[Role.CHANNEL_MANAGER],
            won=True,
            amount=1000,
            close_date=date.today() - timedelta(days=1),
        )
    response = act(acme.client(Role.FINANCE), won, "reverse", reason="x")
    assert response.status_code == 403
    assert fresh(acme, won).status == Status.WON
