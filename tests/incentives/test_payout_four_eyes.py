"""Money controls on payout runs: four eyes (the person who started a run
cannot approve it, unless the tenant turned the rule off), the approver
recorded and shown, "Approve" never offered when nothing is payable, and
cancelling asks first on a page that states the consequence."""

import pytest
from django.urls import reverse

from incentives import payouts
from incentives.models import IncentiveSettings, PayoutRun
from prm.tenancy.roles import Role

from .test_payout_admin import checker_client, fresh, in_review

pytestmark = pytest.mark.django_db

Status = PayoutRun.Status


def change_url(run) -> str:
    return reverse("tenant_admin:incentives_payoutrun_change", args=[run.pk])


def set_four_eyes(world, on: bool) -> None:
    with world.scope():
        IncentiveSettings.for_tenant(world.tenant)  # the row exists
        IncentiveSettings.objects.filter(tenant=world.tenant).update(payout_maker_checker=on)


class TestService:
    def test_four_eyes_is_on_by_default(self, acme):
        with acme.scope():
            assert IncentiveSettings.for_tenant(acme.tenant).payout_maker_checker is True

    def test_the_maker_is_refused(self, acme):
        run = in_review(acme, "120")
        with acme.scope(), pytest.raises(payouts.PayoutError, match="another finance person"):
            payouts.approve(run, by=acme[Role.FINANCE])
        assert fresh(acme, run).status == Status.REVIEW
        assert fresh(acme, run).approved_by is None

    def test_another_finance_person_approves_and_is_recorded(self, acme):
        run = in_review(acme, "120")
        checker = acme.second(Role.FINANCE)
        with acme.scope():
            payouts.approve(run, by=checker)
        run = fresh(acme, run)
        assert run.status in (Status.APPROVING, Status.APPROVED)
        assert run.approved_by == checker.user
        assert run.created_by == acme[Role.FINANCE].user

    def test_with_the_rule_off_the_maker_approves(self, acme):
        set_four_eyes(acme, False)
        run = in_review(acme, "120")
        with acme.scope():
            payouts.approve(run, by=acme[Role.FINANCE])
        assert fresh(acme, run).approved_by == acme[Role.FINANCE].user


class TestAdminPage:
    def test_the_maker_is_not_offered_approve_and_is_told_why(self, acme):
        run = in_review(acme, "120")
        client = acme.client(Role.FINANCE)
        page = client.get(change_url(run)).content.decode()
        assert 'value="approve"' not in page
        assert 'value="cancel"' in page
        assert f"You started {run.reference}: another finance person approves it" in page
        refused = client.post(change_url(run), {"_action": "approve"})
        assert refused.status_code == 200
        assert "so another finance person must approve it" in refused.content.decode()
        assert fresh(acme, run).status == Status.REVIEW

    def test_the_checker_approves_and_the_page_shows_who(
        self, acme, django_capture_on_commit_callbacks
    ):
        run = in_review(acme, "120")
        client = checker_client(acme)
        assert 'value="approve"' in client.get(change_url(run)).content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(change_url(run), {"_action": "approve"}).status_code == 302
        page = acme.client(Role.FINANCE).get(change_url(run)).content.decode()
        assert 'data-testid="approved-by"' in page
        assert str(acme.second(Role.FINANCE).user) in page
        listing = acme.client(Role.FINANCE).get(
            reverse("tenant_admin:incentives_payoutrun_changelist")
        )
        assert str(acme.second(Role.FINANCE).user) in listing.content.decode()

    def test_with_the_rule_off_the_maker_is_offered_approve(self, acme):
        set_four_eyes(acme, False)
        run = in_review(acme, "120")
        page = acme.client(Role.FINANCE).get(change_url(run)).content.decode()
        assert 'value="approve"' in page

    def test_approve_is_not_offered_when_nothing_is_payable(self, acme):
        run = in_review(acme, "20")  # below the minimum
        assert fresh(acme, run).total_payable == 0
        page = checker_client(acme).get(change_url(run)).content.decode()
        assert 'value="approve"' not in page
        assert "Nothing is payable in this run" in page
        assert 'value="cancel"' in page


class TestCancelConfirmation:
    def test_asks_with_the_consequence_then_cancels(self, acme):
        run = in_review(acme, "120", "200")
        client = acme.client(Role.FINANCE)
        asked = client.post(change_url(run), {"_action": "cancel", "reason": "Wrong cutoff"})
        assert asked.status_code == 200
        page = asked.content.decode()
        assert f"Cancel {run.reference}?" in page
        assert f"Nothing is paid from {run.reference}: its 2 partner lines (320.00 USD" in page
        assert "cannot be reopened" in page
        assert ("_action", "cancel") in asked.context["hidden"]
        assert ("reason", "Wrong cutoff") in asked.context["hidden"]
        assert fresh(acme, run).status == Status.REVIEW
        done = client.post(
            change_url(run), {"_action": "cancel", "reason": "Wrong cutoff", "confirm": "yes"}
        )
        assert done.status_code == 302
        assert fresh(acme, run).status == Status.CANCELLED

    def test_other_tenant_404_and_wrong_role_403(self, acme, globex):
        run = in_review(acme, "120")
        data = {"_action": "cancel", "reason": "x", "confirm": "yes"}
        assert globex.client(Role.FINANCE).post(change_url(run), data).status_code == 404
        assert acme.client(Role.EXECUTIVE).post(change_url(run), data).status_code == 403
        assert fresh(acme, run).status == Status.REVIEW
