"""Ledger entries say what caused them in business words, on the partner's
statement and in the admin's ledger: "Deal won", "Deal lost — reversal",
"Manual adjustment by <name>", "Payout PR-…", never the writer's internal
name (task:sync_deal, admin:manual_adjustment)."""

import uuid
from datetime import date
from decimal import Decimal

import pytest

from dealreg.models import DealRegistration
from incentives import ledger, payouts
from incentives.adjustments import manual_adjustment
from incentives.models import LedgerEntry
from incentives.wording import cause
from prm.tenancy.roles import Role

from .conftest import make_plan, make_won_deal
from .test_payouts import book

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
Status = DealRegistration.Status


def resync(deal, **changes):
    for field, value in changes.items():
        setattr(deal, field, value)
    deal.save()
    return ledger.sync_deal(deal)


class TestCauses:
    def test_deal_won_then_corrected_then_lost(self, acme):
        with acme.scope():
            make_plan(acme, rate_percent=Decimal("10"))
            deal = make_won_deal(acme, "1000.00")
            (accrual,) = ledger.sync_deal(deal)
            assert cause(accrual) == "Deal won"
            (adjustment,) = resync(deal, won_amount=Decimal("800.00"))
            assert adjustment.kind == Kind.ADJUSTMENT
            assert cause(adjustment) == "Won amount or close date corrected"
            (clawback,) = resync(deal, status=Status.LOST)
            assert clawback.kind == Kind.CLAWBACK
            assert cause(clawback) == "Deal lost — reversal"

    def test_a_reversed_win_is_clawed_back(self, acme):
        with acme.scope():
            make_plan(acme, rate_percent=Decimal("10"))
            deal = make_won_deal(acme, "1000.00")
            ledger.sync_deal(deal)
            (clawback,) = resync(deal, status=Status.REVERSED)
            assert cause(clawback) == "Win reversed — clawback"

    def test_manual_adjustment_names_who_made_it(self, acme):
        finance = acme[Role.FINANCE]
        finance.user.full_name = "Fiona Finance"
        finance.user.save()
        with acme.scope():
            entry = manual_adjustment(
                acme.tenant,
                by=finance,
                partner=acme.partner,
                amount=Decimal("25.00"),
                currency="USD",
                effective_date=date.today(),
                reason="Goodwill",
                token=str(uuid.uuid4()),
            )
        assert cause(entry) == "Manual adjustment by Fiona Finance"

    def test_a_payout_names_its_run(self, acme):
        today = acme.tenant.local_today()
        with acme.scope():
            book(acme, acme.partner, "120", available_on=today)
            run = payouts.compute_run(
                payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=today)
            )
            payouts.write_payouts(payouts.approve(run, by=acme.second(Role.FINANCE)))
            payout = LedgerEntry.objects.get(kind=Kind.PAYOUT)
        assert cause(payout) == f"Payout {run.reference}"


class TestPages:
    @pytest.fixture
    def entries(self, acme):
        with acme.scope():
            make_plan(acme, rate_percent=Decimal("10"))
            deal = make_won_deal(acme, "1000.00", close_date=date.today())
            ledger.sync_deal(deal)
            resync(deal, status=Status.LOST)

    def test_the_portal_statement_shows_the_causes(self, acme, entries):
        page = acme.client(Role.PARTNER_ADMIN).get("/incentives/statement/").content.decode()
        assert "Deal won" in page
        assert "Deal lost — reversal" in page
        assert "sync_deal" not in page

    def test_the_admin_ledger_shows_the_causes(self, acme, entries):
        response = acme.client(Role.FINANCE).get("/admin/incentives/ledgerentry/")
        page = response.content.decode()
        assert "what happened" in page.lower()
        assert "Deal won" in page and "Deal lost — reversal" in page
        assert "sync_deal" not in page
        with acme.scope():
            entry = LedgerEntry.objects.get(kind=Kind.CLAWBACK)
        detail = acme.client(Role.FINANCE).get(f"/admin/incentives/ledgerentry/{entry.pk}/change/")
        assert "Deal lost — reversal: clawback of" in detail.content.decode()
