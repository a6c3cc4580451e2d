"""Disputes: a partner admin questions a statement line, finance answers
and closes it by an adjustment entry or a rejection; the services and the
admin page finance works on."""

from datetime import date
from decimal import Decimal

import pytest

from incentives import disputes, ledger, statements
from incentives.ledger import IncentiveError
from incentives.models import Dispute, DisputeMessage, LedgerEntry
from prm.tenancy.models import AuditEntry, Notification
from prm.tenancy.roles import Role
from tests import factories

from .conftest import make_plan, make_won_deal

pytestmark = pytest.mark.django_db

Status = Dispute.Status
D = Decimal


@pytest.fixture
def line(acme):
    """A commission accrual on a won deal of the world's partner."""
    with acme.scope():
        make_plan(acme, rate_percent=D("10"))
        deal = make_won_deal(acme, "1000.00", close_date=date.today())
        (entry,) = ledger.sync_deal(deal)
        return entry


@pytest.fixture
def opened(acme, line):
    with acme.scope():
        return disputes.open_dispute(
            line, by=acme[Role.PARTNER_ADMIN], message="The deal was 1,200, not 1,000."
        )


def notes(world, role, kind=None):
    with world.scope():
        found = Notification.objects.filter(user=world[role].user)
        if kind:
            found = found.filter(kind=kind)
        return list(found)


class TestOpen:
    def test_partner_admin_opens_a_dispute_with_a_message(self, acme, line, opened):
        with acme.scope():
            dispute = Dispute.objects.get()
            (message,) = dispute.messages.all()
            audit = AuditEntry.objects.get(action="incentives.dispute_opened")
        assert dispute == opened
        assert dispute.code.startswith("DP-") and len(dispute.code) == 11
        assert (dispute.status, dispute.partner, dispute.entry) == (
            Status.OPEN,
            acme.partner,
            line,
        )
        assert dispute.opened_by == acme[Role.PARTNER_ADMIN].user
        assert (message.body, message.from_partner) == ("The deal was 1,200, not 1,000.", True)
        assert audit.object_id == str(dispute.pk)
        (note,) = notes(acme, Role.FINANCE)
        assert note.kind == "incentives.dispute_opened"
        assert (
            dispute.code in note.title
            and note.url == f"/admin/incentives/dispute/{dispute.pk}/change/"
        )

    def test_pressing_twice_opens_once(self, acme, line, opened):
        with acme.scope():
            again = disputes.open_dispute(
                line, by=acme[Role.PARTNER_ADMIN], message="The deal was 1,200, not 1,000."
            )
            assert again == opened
            assert Dispute.objects.count() == 1 and DisputeMessage.objects.count() == 1

    def test_one_open_dispute_per_line(self, acme, line, opened):
        with acme.scope():
            with pytest.raises(IncentiveError, match=f"already disputed in {opened.code}"):
                disputes.open_dispute(line, by=acme[Role.PARTNER_ADMIN], message="Another thing")
            assert Dispute.objects.count() == 1

    def test_a_closed_dispute_leaves_the_line_open_to_a_new_one(self, acme, line, opened):
        with acme.scope():
            disputes.reject(opened, by=acme[Role.FINANCE], reason="The contract says 1,000.")
            again = disputes.open_dispute(
                line, by=acme[Role.PARTNER_ADMIN], message="Here is the signed order."
            )
        assert again != opened and again.status == Status.OPEN

    @pytest.mark.parametrize(
        "who", [Role.PARTNER_USER, Role.FINANCE, Role.OPS_ADMIN, Role.CHANNEL_MANAGER]
    )
    def test_only_the_partners_admins_may_open(self, acme, line, who):
        with acme.scope():
            with pytest.raises(IncentiveError, match="Only your organisation's partner admins"):
                disputes.open_dispute(line, by=acme[who], message="Wrong")
            assert not Dispute.objects.exists()

    def test_another_partners_admin_may_not(self, acme, line):
        with acme.scope():
            stranger = factories.make_member(
                acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner
            )
            with pytest.raises(IncentiveError, match="Only your organisation's partner admins"):
                disputes.open_dispute(line, by=stranger, message="Wrong")
            assert not Dispute.objects.exists()

    @pytest.mark.parametrize("message", ["", "   \n "])
    def test_a_message_is_required(self, acme, line, message):
        with acme.scope():
            with pytest.raises(IncentiveError, match="Write what is wrong") as refused:
                disputes.open_dispute(line, by=acme[Role.PARTNER_ADMIN], message=message)
            assert refused.value.field == "message"
            assert not Dispute.objects.exists()


class TestThread:
    def test_finance_answers_and_the_partner_writes_back(self, acme, opened):
        with acme.scope():
            disputes.add_message(opened, by=acme[Role.FINANCE], body="Which order number?")
            assert Dispute.objects.get().status == Status.ANSWERED
            (note,) = notes(acme, Role.PARTNER_ADMIN, "incentives.dispute_answered")
            assert note.url == f"/incentives/disputes/{opened.code}/"
            assert "Which order number?" in note.body

            disputes.add_message(opened, by=acme[Role.PARTNER_ADMIN], body="PO-4711.")
            assert Dispute.objects.get().status == Status.OPEN
            thread = list(
                DisputeMessage.objects.filter(dispute=opened).values_list("body", "from_partner")
            )
        assert thread == [
            ("The deal was 1,200, not 1,000.", True),
            ("Which order number?", False),
            ("PO-4711.", True),
        ]
        assert len(notes(acme, Role.FINANCE, "incentives.dispute_message")) == 1

    def test_the_same_message_twice_is_stored_once(self, acme, opened):
        with acme.scope():
            first = disputes.add_message(opened, by=acme[Role.FINANCE], body="Checking.")
            second = disputes.add_message(opened, by=acme[Role.FINANCE], body="Checking.")
            assert first == second
            assert DisputeMessage.objects.filter(dispute=opened).count() == 2

    @pytest.mark.parametrize("who", [Role.EXECUTIVE, Role.OPS_ADMIN, Role.PARTNER_USER])
    def test_readers_may_not_write(self, acme, opened, who):
        with acme.scope():
            with pytest.raises(IncentiveError, match="may not write"):
                disputes.add_message(opened, by=acme[who], body="Hello")
            assert DisputeMessage.objects.count() == 1

    def test_an_empty_message_is_refused(self, acme, opened):
        with acme.scope(), pytest.raises(IncentiveError, match="Write a message"):
            disputes.add_message(opened, by=acme[Role.FINANCE], body=" ")

    def test_a_closed_dispute_takes_no_messages(self, acme, opened):
        with acme.scope():
            disputes.reject(opened, by=acme[Role.FINANCE], reason="Correct as booked.")
            with pytest.raises(IncentiveError, match="is closed"):
                disputes.add_message(opened, by=acme[Role.PARTNER_ADMIN], body="But…")
            assert DisputeMessage.objects.count() == 1


class TestResolve:
    def test_adjustment_writes_one_entry_and_closes(self, acme, line, opened):
        with acme.scope():
            done = disputes.resolve_with_adjustment(
                opened, by=acme[Role.FINANCE], amount=D("20.00"), reason="Deal was 1,200."
            )
            entry = LedgerEntry.objects.get(source=LedgerEntry.Source.DISPUTE)
            view = statements.statement(acme.partner, statements.parse_period(acme.tenant, None))
        assert done.status == Status.ADJUSTED and done.adjustment == entry
        assert (done.resolution, done.resolved_by) == ("Deal was 1,200.", acme[Role.FINANCE].user)
        assert (entry.kind, entry.amount, entry.amount_base) == (
            "adjustment",
            D("20.00"),
            D("20.00"),
        )
        assert (entry.currency, entry.fx_rate, entry.partner) == ("USD", 1, acme.partner)
        assert entry.dispute == opened and entry.registration is None
        assert entry.idempotency_key == f"dispute:{opened.pk}"
        assert entry.available_on == acme.tenant.local_today()
        assert entry.created_by == acme[Role.FINANCE].user
        assert view.adjustments == D("20.00") and view.accruals == line.amount_base
        (note,) = notes(acme, Role.PARTNER_ADMIN, "incentives.dispute_resolved")
        assert "20.00 USD" in note.title

    def test_a_negative_adjustment_takes_back(self, acme, opened):
        with acme.scope():
            done = disputes.resolve_with_adjustment(
                opened, by=acme[Role.FINANCE], amount="-5.5", reason="Overpaid."
            )
        assert done.adjustment.amount == D("-5.50")

    def test_resolving_twice_writes_once(self, acme, opened):
        with acme.scope():
            disputes.resolve_with_adjustment(
                opened, by=acme[Role.FINANCE], amount=D("20"), reason="Fixed."
            )
            with pytest.raises(IncentiveError, match="is closed"):
                disputes.resolve_with_adjustment(
                    opened, by=acme[Role.FINANCE], amount=D("20"), reason="Fixed."
                )
            with pytest.raises(IncentiveError, match="is closed"):
                disputes.reject(opened, by=acme[Role.FINANCE], reason="No.")
            assert LedgerEntry.objects.filter(source=LedgerEntry.Source.DISPUTE).count() == 1
            assert Dispute.objects.get().status == Status.ADJUSTED

    @pytest.mark.parametrize(
        ("amount", "message"),
        [
            (D("0"), "zero changes nothing"),
            (D("0.001"), "at most 2 decimals"),
            ("12,5", "as a number"),
            ("NaN", "as a number"),
            (D("1000000000"), "beyond any adjustment"),
        ],
    )
    def test_bad_amounts_are_refused(self, acme, opened, amount, message):
        with acme.scope():
            with pytest.raises(IncentiveError, match=message) as refused:
                disputes.resolve_with_adjustment(
                    opened, by=acme[Role.FINANCE], amount=amount, reason="Because."
                )
            assert refused.value.field == "amount"
            assert Dispute.objects.get().status == Status.OPEN
            assert not LedgerEntry.objects.filter(source=LedgerEntry.Source.DISPUTE).exists()

    def test_a_reason_is_required(self, acme, opened):
        with acme.scope():
            with pytest.raises(IncentiveError, match="Write the reason") as refused:
                disputes.resolve_with_adjustment(
                    opened, by=acme[Role.FINANCE], amount=D("1"), reason=""
                )
            assert refused.value.field == "reason"
            with pytest.raises(IncentiveError, match="Write the reason"):
                disputes.reject(opened, by=acme[Role.FINANCE], reason="  ")
            assert Dispute.objects.get().status == Status.OPEN

    @pytest.mark.parametrize("who", [Role.OPS_ADMIN, Role.EXECUTIVE, Role.PARTNER_ADMIN])
    def test_only_finance_resolves(self, acme, opened, who):
        with acme.scope():
            with pytest.raises(IncentiveError, match="Only finance"):
                disputes.resolve_with_adjustment(
                    opened, by=acme[who], amount=D("1"), reason="Because."
                )
            with pytest.raises(IncentiveError, match="Only finance"):
                disputes.reject(opened, by=acme[who], reason="Because.")
            assert Dispute.objects.get().status == Status.OPEN

    def test_reject_keeps_the_ledger_and_tells_the_partner(self, acme, opened):
        with acme.scope():
            before = LedgerEntry.objects.count()
            done = disputes.reject(opened, by=acme[Role.FINANCE], reason="Booked as agreed.")
            assert LedgerEntry.objects.count() == before
        assert (done.status, done.resolution, done.adjustment) == (
            Status.REJECTED,
            "Booked as agreed.",
            None,
        )
        (note,) = notes(acme, Role.PARTNER_ADMIN, "incentives.dispute_rejected")
        assert note.body == "Booked as agreed."


class TestDisputeAdmin:
    def url(self, dispute):
        return f"/admin/incentives/dispute/{dispute.pk}/change/"

    def test_finance_sees_the_line_and_thread_with_the_forms(self, acme, opened):
        page = acme.client(Role.FINANCE).get(self.url(opened)).content.decode()
        assert opened.code in page
        assert "The deal was 1,200, not 1,000." in page
        assert 'name="_action" value="adjust"' in page
        assert 'name="_action" value="reject"' in page
        assert 'name="_action" value="reply"' in page

    @pytest.mark.parametrize("who", [Role.EXECUTIVE, Role.OPS_ADMIN])
    def test_readers_see_it_without_forms_and_may_not_post(self, acme, opened, who):
        client = acme.client(who)
        page = client.get(self.url(opened)).content.decode()
        assert "The deal was 1,200, not 1,000." in page
        assert 'value="adjust"' not in page
        response = client.post(self.url(opened), {"_action": "reject", "reject-reason": "No."})
        assert response.status_code == 403
        with acme.scope():
            assert Dispute.objects.get().status == Status.OPEN

    def test_reply(self, acme, opened):
        response = acme.client(Role.FINANCE).post(
            self.url(opened), {"_action": "reply", "reply-body": "Send the PO, please."}
        )
        assert response.status_code == 302
        with acme.scope():
            assert Dispute.objects.get().status == Status.ANSWERED
            assert DisputeMessage.objects.filter(from_partner=False).get().body == (
                "Send the PO, please."
            )

    def test_adjust_through_the_page(self, acme, opened):
        client = acme.client(Role.FINANCE)
        data = {"_action": "adjust", "adjust-amount": "20.00", "adjust-reason": "Agreed."}
        # Asked first: the page says what is booked, nothing is written yet.
        asked = client.post(self.url(opened), data)
        assert asked.status_code == 200
        assert "An adjustment of 20.00 USD is booked to" in asked.content.decode()
        with acme.scope():
            assert not LedgerEntry.objects.filter(source=LedgerEntry.Source.DISPUTE).exists()
        data["confirm"] = "yes"
        response = client.post(self.url(opened), data)
        assert response.status_code == 302
        # A second press: no second entry, a notice instead of an error page.
        again = client.post(self.url(opened), data, follow=True)
        assert again.status_code == 200
        assert "is closed" in again.content.decode()
        with acme.scope():
            assert Dispute.objects.get().status == Status.ADJUSTED
            assert LedgerEntry.objects.filter(source=LedgerEntry.Source.DISPUTE).count() == 1

    def test_refusals_show_on_the_form_and_change_nothing(self, acme, opened):
        response = acme.client(Role.FINANCE).post(
            self.url(opened), {"_action": "adjust", "adjust-amount": "0", "adjust-reason": "x"}
        )
        assert response.status_code == 200
        assert "zero changes nothing" in response.content.decode()
        response = acme.client(Role.FINANCE).post(
            self.url(opened), {"_action": "reject", "reject-reason": ""}
        )
        assert response.status_code == 200
        assert "This field is required" in response.content.decode()
        with acme.scope():
            assert Dispute.objects.get().status == Status.OPEN

    def test_reject_asks_first(self, acme, opened):
        client = acme.client(Role.FINANCE)
        data = {"_action": "reject", "reject-reason": "The deal closed at 1,000."}
        asked = client.post(self.url(opened), data)
        assert asked.status_code == 200
        assert "is closed without any change to the ledger" in asked.content.decode()
        with acme.scope():
            assert Dispute.objects.get().status == Status.OPEN
        assert client.post(self.url(opened), {**data, "confirm": "yes"}).status_code == 302
        with acme.scope():
            assert Dispute.objects.get().status == Status.REJECTED

    def test_unknown_action(self, acme, opened):
        response = acme.client(Role.FINANCE).post(self.url(opened), {"_action": "delete"})
        assert response.status_code == 400

    def test_list_filters(self, acme, opened):
        client = acme.client(Role.FINANCE)
        base = "/admin/incentives/dispute/"
        assert opened.code in client.get(base).content.decode()
        assert opened.code in client.get(base + "?status=open_any").content.decode()
        assert opened.code not in client.get(base + "?status=rejected").content.decode()
        assert opened.code in client.get(base + "?amount=100-1000").content.decode()
        assert opened.code not in client.get(base + "?amount=gte10000").content.decode()
        mine = f"?partner={acme.partner.pk}"
        assert opened.code in client.get(base + mine).content.decode()
        theirs = f"?partner={acme.other_partner.pk}"
        assert opened.code not in client.get(base + theirs).content.decode()

    def test_no_add_or_delete(self, acme, opened):
        client = acme.client(Role.FINANCE)
        assert client.get("/admin/incentives/dispute/add/").status_code == 403
        assert client.get(f"/admin/incentives/dispute/{opened.pk}/delete/").status_code == 403
