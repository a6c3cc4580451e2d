"""Incentives' home cards (incentives/declare.py): finance sees the payout
runs waiting for them by reference, open disputes and won deals not accrued;
a partner admin sees their organisation's open disputes."""

from html import unescape

import pytest

from incentives.models import DealAccrualState, IncentiveSettings, PayoutRun
from incentives.url_matrix.payouts import payout_run
from incentives.url_matrix.portal import dispute
from prm.tenancy.roles import Role
from prm.tenancy.views import home_cards

from .conftest import make_won_deal


def cards(world, role) -> dict:
    with world.scope():
        return {c["card"].key: c for c in home_cards(world[role])}


@pytest.mark.django_db
def test_finance_sees_the_run_awaiting_approval_by_its_reference(acme, globex):
    run = payout_run(acme)
    payout_run(globex)
    assert run.status == PayoutRun.Status.REVIEW
    # Four eyes (the default): the colleague who can approve it is asked to;
    # the one who started it is told it waits for someone else.
    acme.second(Role.FINANCE)
    (count,) = cards(acme, "second_finance")["incentives.payouts"]["counts"]
    assert count.text == f"Payout run {run.reference} awaiting approval"
    assert count.url == f"/admin/incentives/payoutrun/{run.pk}/change/"
    assert not count.urgent
    (own,) = cards(acme, Role.FINANCE)["incentives.payouts"]["counts"]
    assert own.text == (
        f"Payout run {run.reference} awaiting a colleague's approval (you started it)"
    )
    with acme.scope():
        settings_row = IncentiveSettings.for_tenant(acme.tenant)
        settings_row.payout_maker_checker = False
        settings_row.save()
    (own,) = cards(acme, Role.FINANCE)["incentives.payouts"]["counts"]
    assert own.text == f"Payout run {run.reference} awaiting approval"
    with acme.scope():
        PayoutRun.objects.filter(pk=run.pk).update(status=PayoutRun.Status.FAILED)
    (count,) = cards(acme, Role.FINANCE)["incentives.payouts"]["counts"]
    assert count.text == f"Payout run {run.reference} failed: see its error" and count.urgent
    page = acme.client(Role.FINANCE).get("/").content.decode()
    assert f"Payout run {run.reference} failed" in page


@pytest.mark.django_db
def test_open_disputes_are_counted_for_finance_and_the_partner_admin(acme, globex):
    dispute(acme)
    dispute(globex)
    (count,) = cards(acme, Role.FINANCE)["incentives.disputes"]["counts"]
    assert count.text == "1 open dispute"
    response = acme.client(Role.FINANCE).get(unescape(count.url))
    assert response.context["cl"].result_count == 1
    (count,) = cards(acme, Role.PARTNER_ADMIN)["incentives.statements"]["counts"]
    assert (count.text, count.url) == ("1 open dispute", "/incentives/disputes/")
    # Partner users see no statements; staff see no partner cards.
    assert "incentives.statements" not in cards(acme, Role.PARTNER_USER)
    assert "incentives.statements" not in cards(acme, Role.FINANCE)


@pytest.mark.django_db
def test_won_deals_the_ledger_could_not_accrue_are_flagged(acme):
    assert cards(acme, Role.FINANCE)["incentives.stuck"]["counts"] == []
    with acme.scope():
        deal = make_won_deal(acme)
        DealAccrualState.objects.create(
            tenant=acme.tenant, registration=deal, problem="No EUR rate on 2026-01-02."
        )
    (count,) = cards(acme, Role.FINANCE)["incentives.stuck"]["counts"]
    assert count.text == "1 won deal not accrued yet" and count.urgent
    response = acme.client(Role.FINANCE).get(count.url)
    assert response.context["cl"].result_count == 1


@pytest.mark.django_db
def test_each_staff_role_gets_the_cards_of_its_work(acme):
    assert {"incentives.payouts", "incentives.disputes", "incentives.ledger"} <= set(
        cards(acme, Role.FINANCE)
    )
    assert "incentives.payouts" not in cards(acme, Role.CHANNEL_MANAGER)
    assert "incentives.plans" in cards(acme, Role.OPS_ADMIN)
    assert "incentives.plans" not in cards(acme, Role.FINANCE)
