"""The admin asks before an irreversible decision on a registration:
rejecting it and reversing a win go through the admin's confirmation page,
which states the consequence; only the confirmed post acts."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from dealreg import services
from dealreg.models import DealRegistration
from prm.tenancy.roles import Role

from .test_admin_registrations import act, change_url, fresh

pytestmark = pytest.mark.django_db

Status = DealRegistration.Status


@pytest.fixture
def submitted(acme, submit_as):
    return submit_as(acme)


@pytest.fixture
def won(acme, submitted):
    with acme.scope():
        approved = services.approve(submitted, by=acme[Role.CHANNEL_MANAGER])
        return services.record_outcome(
            approved,
            by=acme[Role.CHANNEL_MANAGER],
            won=True,
            amount=Decimal("5000.00"),
            close_date=date.today() - timedelta(days=1),
        )


class TestReject:
    def test_asks_with_the_consequence_and_does_nothing(self, acme, submitted):
        client = acme.client(Role.CHANNEL_MANAGER)
        response = act(client, submitted, "reject", confirm=False, reason="Customer is ours")
        assert response.status_code == 200
        assert response.templates[0].name == "admin/confirm.html"
        page = response.content.decode()
        assert f"Reject {submitted.code}?" in page
        assert f"{acme.partner.name} is told that {submitted.code} was not approved" in page
        assert "Customer is ours" in page
        assert "cannot be reopened" in page
        # The admin's breadcrumbs lead back to the list and the registration.
        assert change_url(submitted) in page
        assert "/admin/dealreg/dealregistration/" in page
        assert ("reject-reason", "Customer is ours") in response.context["hidden"]
        assert fresh(acme, submitted).status == Status.SUBMITTED

    def test_the_confirmed_post_rejects(self, acme, submitted):
        client = acme.client(Role.CHANNEL_MANAGER)
        response = act(client, submitted, "reject", reason="Customer is ours")
        assert response.status_code == 302
        assert fresh(acme, submitted).status == Status.REJECTED

    def test_an_invalid_form_is_not_asked_about(self, acme, submitted):
        response = act(
            acme.client(Role.CHANNEL_MANAGER), submitted, "reject", confirm=False, reason=" "
        )
        assert response.status_code == 200
        assert response.context["forms"]["reject"].errors["reason"]

    def test_other_tenant_404_and_wrong_role_403(self, acme, globex, submitted):
        response = act(globex.client(Role.CHANNEL_MANAGER), submitted, "reject", reason="x")
        assert response.status_code == 404
        for role in (Role.FINANCE, Role.EXECUTIVE):
            assert act(acme.client(role), submitted, "reject", reason="x").status_code == 403
        assert fresh(acme, submitted).status == Status.SUBMITTED


class TestReverseWin:
    def test_asks_with_the_clawback_then_reverses(self, acme, won):
        client = acme.client(Role.CHANNEL_MANAGER)
        response = act(client, won, "reverse", confirm=False, reason="Customer cancelled")
        assert response.status_code == 200
        page = response.content.decode()
        assert "The win (5,000.00 USD) no longer stands" in page
        assert f"Incentives accrued to {acme.partner.name} on this deal are clawed back" in page
        assert fresh(acme, won).status == Status.WON
        assert act(client, won, "reverse", reason="Customer cancelled").status_code == 302
        assert fresh(acme, won).status == Status.REVERSED
