from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from dealreg.models import DealRegistration
from incentives import ledger
from incentives.models import ExchangeRate, LedgerEntry, PlanVersion

from .conftest import make_plan, make_won_deal

Kind = LedgerEntry.Kind


def entries(registration):
    return list(LedgerEntry.objects.filter(registration=registration).order_by("created_at", "id"))


def test_won_deal_accrues_once(acme):
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("8.5"))
        deal = make_won_deal(acme, "12345.67", close_date=date(2026, 10, 3))
        first = ledger.sync_deal(deal)
        again = ledger.sync_deal(deal)
        assert again == []
        (entry,) = entries(deal)
        assert entry == first[0]
        assert entry.kind == Kind.ACCRUAL
        assert entry.amount == Decimal("1049.38")  # 1049.38195 half-up
        assert entry.amount_base == Decimal("1049.38")
        assert entry.fx_rate == 1
        assert entry.available_on == date(2026, 11, 2)
        assert entry.basis_amount == Decimal("12345.67")


def test_reversal_claws_back_exactly(acme):
    with acme.scope():
        ExchangeRate.objects.create(
            tenant=acme.tenant, currency="EUR", valid_from=date(2026, 1, 1), rate=Decimal("1.0837")
        )
        make_plan(acme, rate_percent=Decimal("7"))
        deal = make_won_deal(acme, "999.99", currency="EUR", close_date=date(2026, 10, 3))
        (accrual,) = ledger.sync_deal(deal)
        assert accrual.amount == Decimal("70.00")  # 69.9993
        assert accrual.currency == "EUR"
        assert accrual.amount_base == Decimal("75.86")  # 70.00 * 1.0837 = 75.859
        DealRegistration.objects.filter(pk=deal.pk).update(status=DealRegistration.Status.REVERSED)
        (clawback,) = ledger.sync_deal(deal)
        assert clawback.kind == Kind.CLAWBACK
        assert (clawback.amount, clawback.amount_base) == (Decimal("-70.00"), Decimal("-75.86"))
        assert clawback.reverses == accrual
        assert ledger.sync_deal(deal) == []


def test_amount_corrected_adjusts_the_difference(acme):
    with acme.scope():
        make_plan(acme, rate_percent=Decimal("10"))
        deal = make_won_deal(acme, "1000", close_date=date(2026, 10, 3))
        ledger.sync_deal(deal)
        DealRegistration.objects.filter(pk=deal.pk).update(won_amount=Decimal("600"))
        (adjustment,) = ledger.sync_deal(deal)
        assert adjustment.kind == Kind.ADJUSTMENT
        assert adjustment.amount == Decimal("-40.00")
        assert adjustment.available_on <= date.today()
        assert ledger.sync_deal(deal) == []
        assert sum(e.amount for e in entries(deal)) == Decimal("60.00")


def test_missing_rate_writes_nothing(acme):
    with acme.scope():
        make_plan(acme)
        deal = make_won_deal(acme, "100", currency="GBP", close_date=date(2026, 10, 3))
        with pytest.raises(ledger.NoRate, match="No GBP exchange rate is in force on 2026-10-03"):
            ledger.sync_deal(deal)
        assert entries(deal) == []


def test_ledger_refuses_update_and_delete_in_the_database(acme):
    with acme.scope():
        make_plan(acme)
        deal = make_won_deal(acme, "100", close_date=date.today() - timedelta(days=3))
        (entry,) = ledger.sync_deal(deal)
        for sql in (
            "UPDATE incentives_ledgerentry SET amount = 0 WHERE id = %s",
            "DELETE FROM incentives_ledgerentry WHERE id = %s",
        ):
            with (
                pytest.raises(IntegrityError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, [entry.pk])
        with pytest.raises(ValueError, match="append-only"):
            entry.save()


def test_version_with_entries_is_frozen(acme):
    with acme.scope():
        version = make_plan(acme)
        deal = make_won_deal(acme, "100", close_date=date(2026, 10, 3))
        ledger.sync_deal(deal)
        version.rate_percent = Decimal("11")
        with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
            version.save()
        version.refresh_from_db()
        version.effective_to = date(2026, 12, 31)
        version.save()  # ending a version is allowed
        assert PlanVersion.objects.get(pk=version.pk).rate_percent == Decimal("10")
